import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { UsageError } from "../errors.js";
import type { StackMember } from "../schema/events.js";
import { vipNet } from "./vip-net.js";

export const DEFAULT_STACK_DIR = ".dcpbench/stack";
export const DEFAULT_PORT_BASE = 16432;
export const STACK_USER = "dcpbench";
export const STACK_DB = "dcpbench";
/** More PgBouncer processes per node than cores only add context switches; 16 covers any machine here. */
export const MAX_PGBOUNCER_PROCS = 16;

/** The stack's members, as fault records in result files name them. */
export type MemberName = StackMember;
export const MEMBER_NAMES: readonly MemberName[] = [
  "postgres",
  "pgbouncer-1",
  "pgbouncer-2",
  "haproxy",
  "node-a",
  "node-b",
];

export const VIP_MANAGERS = ["keepalived", "pacemaker"] as const;
export type VipManager = (typeof VIP_MANAGERS)[number];

/** A `--vip` stack's VIP manager; undefined for any other stack. */
export function vipManagerOf(cfg: StackConfig): VipManager | undefined {
  return cfg.vip ? (cfg.vipManager ?? "keepalived") : undefined;
}

/** What `stack up` decided, saved as DIR/stack.json. Holds no secret. */
export interface StackConfig {
  version: 1;
  ha: boolean;
  /**
   * Two pooler nodes in network namespaces (HAProxy in front of both nodes' PgBouncers on each, as the seed's
   * nodes), keepalived holding one virtual IP between them. Absent in older stack files: no.
   */
  vip?: boolean;
  /** What moves the VIP: keepalived (VRRP), or Pacemaker + Corosync as the seed (absent: keepalived). */
  vipManager?: VipManager;
  /** Serve TLS (a self-signed CA in DIR/tls) from PostgreSQL and to PgBouncer's clients. */
  tls?: boolean;
  poolSize: number;
  /** PgBouncer processes per pooler node, sharing its port with so_reuseport (absent in older stack files: 1). */
  pgbouncerProcs?: number;
  maxConnections: number;
  maxClientConn: number;
  ports: { postgres: number; pgbouncer1: number; pgbouncer2: number; haproxy: number; haproxyStats: number };
  serviceUser: string;
}

/** Every path of a stack directory, in one place. */
export function stackPaths(dirArg: string) {
  const dir = resolve(dirArg);
  return {
    dir,
    config: join(dir, "stack.json"),
    pgpass: join(dir, "pgpass"),
    env: join(dir, "stack.env"),
    pgData: join(dir, "postgres", "data"),
    pgSocket: join(dir, "postgres", "run"),
    pgLog: join(dir, "postgres", "postgres.log"),
    pgConf: join(dir, "postgres", "data", "dcpbench.conf"),
    pgPid: join(dir, "postgres", "data", "postmaster.pid"),
    /** Pooler node n's files; process k > 1 of a node (--pgbouncer-procs) has its own ini, pid, log. */
    bouncer: (n: 1 | 2, k = 1) => {
      const base = join(dir, `pgbouncer-${n}`);
      const own = k === 1 ? "" : `.${k}`;
      return {
        dir: base,
        ini: join(base, `pgbouncer${own}.ini`),
        userlist: join(base, "userlist.txt"),
        pid: join(base, `pgbouncer${own}.pid`),
        log: join(base, `pgbouncer${own}.log`),
        /** Its own Unix socket directory: the only way to reach one process's admin console on a shared port. */
        socket: join(base, `run-${k}`),
      };
    },
    haproxy: {
      dir: join(dir, "haproxy"),
      cfg: join(dir, "haproxy", "haproxy.cfg"),
      pid: join(dir, "haproxy", "haproxy.pid"),
    },
    /** A `--vip` node's files: its PgBouncer, its HAProxy and its keepalived. */
    node: (n: "a" | "b") => {
      const base = join(dir, `node-${n}`);
      return {
        dir: base,
        pgbouncerIni: join(base, "pgbouncer.ini"),
        pgbouncerPid: join(base, "pgbouncer.pid"),
        pgbouncerLog: join(base, "pgbouncer.log"),
        userlist: join(base, "userlist.txt"),
        haproxyCfg: join(base, "haproxy.cfg"),
        haproxyPid: join(base, "haproxy.pid"),
        keepalivedConf: join(base, "keepalived.conf"),
        keepalivedPid: join(base, "keepalived.pid"),
        vrrpPid: join(base, "vrrp.pid"),
        checkersPid: join(base, "checkers.pid"),
      };
    },
    /**
     * Root's: the scripts keepalived and Pacemaker run from here (as root; Pacemaker's alert agent as hacluster,
     * which owns events.log) must not be writable by others.
     */
    vip: {
      dir: join(dir, "vip"),
      notify: join(dir, "vip", "notify.sh"),
      /** The VIP manager's state changes, one line each: epoch seconds, node, state. */
      events: join(dir, "vip", "events.log"),
      /** Pacemaker's alert agent, which writes `events`. */
      alert: join(dir, "vip", "alert.sh"),
      corosyncConf: join(dir, "vip", "corosync.conf"),
      /** The HAProxy that Pacemaker runs on the VIP's node. */
      haproxyCfg: join(dir, "vip", "haproxy.cfg"),
      /** fence_dummy's record of the power state it pretends to set. */
      fenceStatus: join(dir, "vip", "fence.status"),
      /** A Pacemaker node's own directories, mounted over the system's in its mount namespace. */
      cluster: (n: "a" | "b") => {
        const base = join(dir, "vip", `node-${n}`);
        return {
          dir: base,
          script: join(base, "node.sh"),
          pid: join(base, "node.pid"),
          out: join(base, "node.out"),
          libPacemaker: join(base, "lib-pacemaker"),
          libCorosync: join(base, "lib-corosync"),
          log: join(base, "log"),
        };
      },
    },
  };
}
export type StackPaths = ReturnType<typeof stackPaths>;

export function portsFrom(base: number): StackConfig["ports"] {
  return {
    postgres: base,
    pgbouncer1: base + 1,
    pgbouncer2: base + 2,
    haproxy: base + 3,
    haproxyStats: base + 4,
  };
}

export function readStackConfig(paths: StackPaths): StackConfig | undefined {
  if (!existsSync(paths.config)) return undefined;
  try {
    return JSON.parse(readFileSync(paths.config, "utf8")) as StackConfig;
  } catch {
    throw new UsageError(
      `${paths.config} is not a readable stack file; remove ${paths.dir} and run 'stack up' again`,
    );
  }
}

/** What a URI reaches on this stack: its PostgreSQL, one of its poolers (a PgBouncer or HAProxy), or neither. */
export function stackRole(cfg: StackConfig | undefined, uri: string): "postgres" | "pooler" | undefined {
  if (!cfg) return undefined;
  const u = new URL(uri);
  const port = Number(u.port || 5432);
  if (cfg.vip) {
    const net = vipNet(cfg.ports.postgres);
    if (u.hostname === net.vip && port === cfg.ports.haproxy) return "pooler";
    const nodeAddrs = Object.values(net.nodes).map((n) => n.addr);
    if (nodeAddrs.includes(u.hostname) && [cfg.ports.pgbouncer1, cfg.ports.haproxy].includes(port))
      return "pooler";
  }
  if (!["127.0.0.1", "localhost"].includes(u.hostname)) return undefined;
  if (port === cfg.ports.postgres) return "postgres";
  return [cfg.ports.pgbouncer1, cfg.ports.pgbouncer2, cfg.ports.haproxy].includes(port)
    ? "pooler"
    : undefined;
}

export function bouncerProcs(cfg: StackConfig): number {
  return cfg.pgbouncerProcs ?? 1;
}

/** The pooler nodes of a stack with their ports. */
export function bouncerNodes(cfg: StackConfig): Array<{ n: 1 | 2; port: number }> {
  const one = { n: 1 as const, port: cfg.ports.pgbouncer1 };
  return cfg.ha ? [one, { n: 2 as const, port: cfg.ports.pgbouncer2 }] : [one];
}

/**
 * Every PgBouncer process of a stack: its member (node), its number on the node, and its name in server-side
 * figures (the node's name when it runs one process, e.g. "pgbouncer-1.2" for the second of several).
 */
export function bouncerProcesses(cfg: StackConfig) {
  const procs = bouncerProcs(cfg);
  return bouncerNodes(cfg).flatMap(({ n, port }) =>
    Array.from({ length: procs }, (_, i) => ({
      member: `pgbouncer-${n}` as MemberName,
      n,
      k: i + 1,
      port,
      label: procs === 1 ? `pgbouncer-${n}` : `pgbouncer-${n}.${i + 1}`,
    })),
  );
}

/** Connection URIs of a stack. None carries the password: it lives in DIR/pgpass (PGPASSFILE). */
export function stackUris(cfg: StackConfig, paths: StackPaths) {
  const uri = (port: number, db = STACK_DB) => `postgresql://${STACK_USER}@127.0.0.1:${port}/${db}`;
  const bouncerPorts = bouncerNodes(cfg).map((b) => b.port);
  // One process per node: its TCP port reaches it. Several share the port (the kernel picks one per
  // connection), so each admin console is reached through that process's own socket directory.
  const admins =
    bouncerProcs(cfg) === 1
      ? bouncerPorts.map((p) => uri(p, "pgbouncer"))
      : bouncerProcesses(cfg).map(
          (p) =>
            `postgresql://${STACK_USER}@localhost:${p.port}/pgbouncer?host=${encodeURIComponent(paths.bouncer(p.n, p.k).socket)}`,
        );
  if (cfg.vip) {
    // The nodes' PgBouncers and HAProxies listen inside their namespaces, reached over the stack's bridge.
    const net = vipNet(cfg.ports.postgres);
    const at = (host: string, port: number, db = STACK_DB) =>
      `postgresql://${STACK_USER}@${host}:${port}/${db}`;
    const nodes = Object.values(net.nodes);
    return {
      direct: uri(cfg.ports.postgres),
      pooled: at(net.vip, cfg.ports.haproxy),
      pgbouncer: nodes.map((n) => at(n.addr, cfg.ports.pgbouncer1)),
      pgbouncerAdmin: nodes.map((n) => at(n.addr, cfg.ports.pgbouncer1, "pgbouncer")),
      haproxy: at(net.vip, cfg.ports.haproxy),
      haproxyStats: undefined,
      vip: net.vip,
    };
  }
  return {
    direct: uri(cfg.ports.postgres),
    pooled: uri(cfg.ha ? cfg.ports.haproxy : cfg.ports.pgbouncer1),
    pgbouncer: bouncerPorts.map((p) => uri(p)),
    pgbouncerAdmin: admins,
    haproxy: cfg.ha ? uri(cfg.ports.haproxy) : undefined,
    haproxyStats: cfg.ha ? `http://127.0.0.1:${cfg.ports.haproxyStats}/stats` : undefined,
    vip: undefined as string | undefined,
  };
}
export type StackUris = ReturnType<typeof stackUris>;

export function membersOf(cfg: StackConfig): MemberName[] {
  if (cfg.vip) return ["postgres", "node-a", "node-b"];
  return cfg.ha ? ["postgres", "pgbouncer-1", "pgbouncer-2", "haproxy"] : ["postgres", "pgbouncer-1"];
}
