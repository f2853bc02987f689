import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { UsageError } from "../errors.js";
import type { StackMember } from "../schema/events.js";

export const DEFAULT_STACK_DIR = ".dcpbench/stack";
export const DEFAULT_PORT_BASE = 16432;
export const STACK_USER = "dcpbench";
export const STACK_DB = "dcpbench";

/** The stack's members, as fault records in result files name them. */
export type MemberName = StackMember;
export const MEMBER_NAMES: readonly MemberName[] = ["postgres", "pgbouncer-1", "pgbouncer-2", "haproxy"];

/** What `stack up` decided, saved as DIR/stack.json. Holds no secret. */
export interface StackConfig {
  version: 1;
  ha: boolean;
  /** Serve TLS (a self-signed CA in DIR/tls) from PostgreSQL and to PgBouncer's clients. */
  tls?: boolean;
  poolSize: number;
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
    bouncer: (n: 1 | 2) => {
      const base = join(dir, `pgbouncer-${n}`);
      return {
        dir: base,
        ini: join(base, "pgbouncer.ini"),
        userlist: join(base, "userlist.txt"),
        pid: join(base, "pgbouncer.pid"),
        log: join(base, "pgbouncer.log"),
      };
    },
    haproxy: {
      dir: join(dir, "haproxy"),
      cfg: join(dir, "haproxy", "haproxy.cfg"),
      pid: join(dir, "haproxy", "haproxy.pid"),
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
  if (!["127.0.0.1", "localhost"].includes(u.hostname)) return undefined;
  const port = Number(u.port || 5432);
  if (port === cfg.ports.postgres) return "postgres";
  return [cfg.ports.pgbouncer1, cfg.ports.pgbouncer2, cfg.ports.haproxy].includes(port)
    ? "pooler"
    : undefined;
}

/** Connection URIs of a stack. None carries the password: it lives in DIR/pgpass (PGPASSFILE). */
export function stackUris(cfg: StackConfig) {
  const uri = (port: number, db = STACK_DB) => `postgresql://${STACK_USER}@127.0.0.1:${port}/${db}`;
  const bouncerPorts = cfg.ha ? [cfg.ports.pgbouncer1, cfg.ports.pgbouncer2] : [cfg.ports.pgbouncer1];
  return {
    direct: uri(cfg.ports.postgres),
    pooled: uri(cfg.ha ? cfg.ports.haproxy : cfg.ports.pgbouncer1),
    pgbouncer: bouncerPorts.map((p) => uri(p)),
    pgbouncerAdmin: bouncerPorts.map((p) => uri(p, "pgbouncer")),
    haproxy: cfg.ha ? uri(cfg.ports.haproxy) : undefined,
    haproxyStats: cfg.ha ? `http://127.0.0.1:${cfg.ports.haproxyStats}/stats` : undefined,
  };
}
export type StackUris = ReturnType<typeof stackUris>;

export function membersOf(cfg: StackConfig): MemberName[] {
  return cfg.ha ? ["postgres", "pgbouncer-1", "pgbouncer-2", "haproxy"] : ["postgres", "pgbouncer-1"];
}
