import { existsSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import {
  bouncerProcs,
  readStackConfig,
  vipManagerOf,
  type MemberName,
  type StackConfig,
  type StackPaths,
} from "./layout.js";
import {
  asUser,
  isAlive,
  launchDetached,
  processCmdline,
  processState,
  runAs,
  sleep,
  spawnDetached,
  spawnDetachedAs,
  type Binaries,
  type ServiceUser,
} from "./system.js";
import { dropVip, netnsPids, setNodeLink, vipNet, type VipNet, type VipNode } from "./vip-net.js";

export interface MemberStatus {
  name: MemberName;
  /** Where it listens when not on 127.0.0.1: a `--vip` node's address in its namespace. */
  host?: string;
  port: number;
  pid?: number;
  /** Every live process of the member: a pooler node with --pgbouncer-procs N has up to N. */
  pids?: number[];
  /** How many processes the member should have. */
  procs: number;
  /** running, stopped (SIGSTOP), or down (no process left). */
  state: "running" | "stopped" | "down";
}

/**
 * One process of a member: what it is, its pidfile, a path on its command line that proves a pid is ours, and,
 * on a `--vip` node, the network namespace it runs in.
 */
interface MemberProcess {
  /** "cluster": a `--vip pacemaker` node's start script, standing for its corosync and Pacemaker. */
  kind: "postgres" | "pgbouncer" | "haproxy" | "keepalived" | "cluster";
  pidFile: string;
  identity: string;
  log: string;
  netns?: string;
  /** The address it listens on, when not 127.0.0.1. */
  host?: string;
  port?: number;
}

function processesOf(cfg: StackConfig, paths: StackPaths, name: MemberName): MemberProcess[] {
  switch (name) {
    case "postgres":
      return [{ kind: "postgres", pidFile: paths.pgPid, identity: paths.pgData, log: paths.pgLog }];
    case "haproxy":
      return [
        { kind: "haproxy", pidFile: paths.haproxy.pid, identity: paths.haproxy.cfg, log: paths.haproxy.cfg },
      ];
    case "pgbouncer-1":
    case "pgbouncer-2": {
      const n = name === "pgbouncer-1" ? 1 : 2;
      return Array.from({ length: bouncerProcs(cfg) }, (_, i) => {
        const b = paths.bouncer(n, i + 1);
        return { kind: "pgbouncer" as const, pidFile: b.pid, identity: b.ini, log: b.log };
      });
    }
    case "node-a":
    case "node-b": {
      const n = name === "node-a" ? "a" : "b";
      const f = paths.node(n);
      const { netns, addr } = vipNet(cfg.ports.postgres).nodes[n];
      const inNode = { netns, host: addr };
      const pgbouncer: MemberProcess = {
        kind: "pgbouncer",
        pidFile: f.pgbouncerPid,
        identity: f.pgbouncerIni,
        log: f.pgbouncerLog,
        ...inNode,
        port: cfg.ports.pgbouncer1,
      };
      if (vipManagerOf(cfg) === "pacemaker") {
        // Pacemaker runs the HAProxy itself, on the VIP's node only.
        const c = paths.vip.cluster(n);
        return [pgbouncer, { kind: "cluster", pidFile: c.pid, identity: c.script, log: c.out, ...inNode }];
      }
      // The order they start in: PgBouncer, the HAProxy in front of it, then keepalived, which takes the VIP.
      return [
        pgbouncer,
        {
          kind: "haproxy",
          pidFile: f.haproxyPid,
          identity: f.haproxyCfg,
          log: f.haproxyCfg,
          ...inNode,
          port: cfg.ports.haproxy,
        },
        {
          kind: "keepalived",
          pidFile: f.keepalivedPid,
          identity: f.keepalivedConf,
          log: f.keepalivedConf,
          ...inNode,
        },
      ];
    }
  }
}

export function memberPort(cfg: StackConfig, name: MemberName): number {
  const map: Record<MemberName, number> = {
    postgres: cfg.ports.postgres,
    "pgbouncer-1": cfg.ports.pgbouncer1,
    "pgbouncer-2": cfg.ports.pgbouncer2,
    haproxy: cfg.ports.haproxy,
    "node-a": cfg.ports.haproxy,
    "node-b": cfg.ports.haproxy,
  };
  return map[name];
}

/** The pid a pidfile records, only if that process is alive and its command line names `identity`. */
function livePid(proc: MemberProcess): number | undefined {
  if (!existsSync(proc.pidFile)) return undefined;
  const pid = Number(readFileSync(proc.pidFile, "utf8").split("\n")[0].trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  // A recycled pid is never mistaken for ours.
  return processCmdline(pid).includes(proc.identity) ? pid : undefined;
}

/** The live pids of a member's processes. */
export function memberPids(cfg: StackConfig, paths: StackPaths, name: MemberName): number[] {
  return processesOf(cfg, paths, name)
    .map(livePid)
    .filter((p): p is number => p !== undefined);
}

/**
 * The live pid of a one-process member (PostgreSQL's postmaster, HAProxy) or of PgBouncer process `proc` of a
 * pooler node, by the stack's file.
 */
export function memberPid(paths: StackPaths, name: MemberName, proc = 1): number | undefined {
  const p = processesOf(configOf(paths), paths, name)[proc - 1];
  return p ? livePid(p) : undefined;
}

export function configOf(paths: StackPaths): StackConfig {
  const cfg = readStackConfig(paths);
  if (!cfg) throw new Error(`no stack in ${paths.dir}`);
  return cfg;
}

export function memberStatus(cfg: StackConfig, paths: StackPaths, name: MemberName): MemberStatus {
  const pids = memberPids(cfg, paths, name);
  const all = processesOf(cfg, paths, name);
  const at = {
    name,
    ...(all[0].host ? { host: all[0].host } : {}),
    port: memberPort(cfg, name),
    procs: all.length,
  };
  if (pids.length === 0) return { ...at, state: "down" };
  const stopped = pids.every((pid) => processState(pid) === "T");
  return { ...at, pid: pids[0], pids, state: stopped ? "stopped" : "running" };
}

/** Every process of the member is alive (a pooler node may have lost one of several). */
export function fullyUp(m: MemberStatus): boolean {
  return m.state !== "down" && (m.pids?.length ?? 0) === m.procs;
}

export function portAnswers(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    // An address that does not answer at all (a node's link down) must not outlast the caller's deadline.
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Waits until a daemon process listens on its member's port and its pidfile names it: the pidfile can come after
 * the socket (PgBouncer listens, then daemonizes and writes it), and a process counts as running by its pidfile.
 */
async function waitUntilUp(port: number, name: MemberName, proc: MemberProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  const host = proc.host ?? "127.0.0.1";
  // keepalived and a cluster stack listen on no port of ours: the pidfile is the sign.
  let listening = proc.kind === "keepalived" || proc.kind === "cluster";
  while (Date.now() < deadline) {
    listening ||= await portAnswers(proc.port ?? port, host);
    if (listening && livePid(proc) !== undefined) return;
    await sleep(50);
  }
  throw new Error(
    listening
      ? `${name} (${proc.kind}) listens on ${host}:${proc.port ?? port} but no pidfile names it after 10s (see ${proc.log})`
      : `${name} (${proc.kind}) did not start listening on ${host}:${proc.port ?? port} within 10s (see ${proc.log})`,
  );
}

/** Starts a member's processes that are not running and waits until each accepts connections. */
export async function startMember(
  name: MemberName,
  cfg: StackConfig,
  paths: StackPaths,
  bins: Binaries,
  user: ServiceUser,
): Promise<void> {
  const port = memberPort(cfg, name);
  const procs = processesOf(cfg, paths, name);
  if (procs.some((p) => p.netns)) {
    // A node that crashed comes back as a rebooted machine would: its link up, without the VIP it held.
    const net = vipNet(cfg.ports.postgres);
    const n = name === "node-a" ? "a" : "b";
    setNodeLink(net, n, true);
    if (memberPids(cfg, paths, name).length === 0) dropVip(net, n);
  }
  for (const proc of procs) {
    if (livePid(proc) !== undefined) continue;
    // A member that died without cleaning up leaves its pidfile; PgBouncer refuses to start over it.
    if (name !== "postgres") rmSync(proc.pidFile, { force: true });
    await startProcess(name, proc, paths, bins, user);
    if (name !== "postgres") await waitUntilUp(port, name, proc);
  }
}

async function startProcess(
  name: MemberName,
  proc: MemberProcess,
  paths: StackPaths,
  bins: Binaries,
  user: ServiceUser,
): Promise<void> {
  if (name === "postgres") {
    // A postmaster killed with SIGKILL can leave backends alive for a moment; pg_ctl then refuses to start.
    let lastError: unknown;
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        runAs(user, bins.pgCtl, ["-D", paths.pgData, "-l", paths.pgLog, "-w", "-t", "60", "start"]);
        return;
      } catch (err) {
        lastError = err;
        await sleep(500);
      }
    }
    throw lastError;
  }
  if (proc.kind === "cluster") {
    // The start script makes its own mount namespace inside the node's network namespace, and stays.
    launchDetached(
      "ip",
      ["netns", "exec", proc.netns!, "unshare", "--mount", "--propagation", "private", "sh", proc.identity],
      proc.log,
    );
    return;
  }
  if (proc.kind === "keepalived") {
    // keepalived enters the node's namespace itself (-s), as root: it adds and removes the VIP there.
    const [ns, base] = [proc.netns!, proc.pidFile.replace(/keepalived\.pid$/, "")];
    // Its children's pidfiles too: a killed child not yet reaped still answers kill(pid, 0), and keepalived
    // would take it for a running instance and not start.
    for (const child of ["vrrp.pid", "checkers.pid"]) rmSync(`${base}${child}`, { force: true });
    const code = await spawnDetached(bins.keepalived!, [
      ...[
        "-s",
        ns,
        "-f",
        proc.identity,
        "-p",
        proc.pidFile,
        "-r",
        `${base}vrrp.pid`,
        "-c",
        `${base}checkers.pid`,
      ],
      ...["--vrrp", "-i", ns],
    ]);
    if (code !== 0) throw new Error(`keepalived exited with code ${code} (check ${proc.identity})`);
    return;
  }
  const [file, args] =
    proc.kind === "haproxy"
      ? [bins.haproxy, ["-D", "-f", proc.identity, "-p", proc.pidFile]]
      : [bins.pgbouncer, ["-d", proc.identity]];
  if (!file) throw new Error("haproxy binary not found (apt-get install -y haproxy)");
  // On a node: enter its namespace as root, then become the service user.
  const code = proc.netns
    ? await spawnDetached("ip", ["netns", "exec", proc.netns, ...asUser(user, file, args).flat()])
    : await spawnDetachedAs(user, file, args);
  if (code !== 0) throw new Error(`${name} (${proc.kind}) exited with code ${code} (see ${proc.log})`);
}

/** "pid 12" or "pids 12, 13": a pooler node may run several processes. */
export function pidList(pids: number[]): string {
  return `${pids.length === 1 ? "pid" : "pids"} ${pids.join(", ")}`;
}

/** A `--vip` node's network and letter, or undefined for any other member. */
export function nodeOf(cfg: StackConfig, name: MemberName): { net: VipNet; n: VipNode } | undefined {
  if (!cfg.vip || (name !== "node-a" && name !== "node-b")) return undefined;
  return { net: vipNet(cfg.ports.postgres), n: name === "node-a" ? "a" : "b" };
}

/** Stops a member (fast shutdown for postgres, immediate for pgbouncer/haproxy), SIGKILL after the grace time. */
export async function stopMember(
  cfg: StackConfig,
  paths: StackPaths,
  name: MemberName,
  graceMs = 15_000,
): Promise<void> {
  // A node's VIP manager goes first: it gives the VIP away while the node still serves.
  const procs = processesOf(cfg, paths, name);
  await stopProcesses(procs.filter(managesVip), name, graceMs);
  await stopProcesses(
    procs.filter((p) => !managesVip(p)),
    name,
    graceMs,
  );
}

const managesVip = (p: MemberProcess): boolean => p.kind === "keepalived" || p.kind === "cluster";

/** Stops a `--vip` node's keepalived alone: it gives the VIP away, the node's PgBouncer and HAProxy serve on. */
export async function stopKeepalived(cfg: StackConfig, paths: StackPaths, name: MemberName): Promise<void> {
  await stopProcesses(
    processesOf(cfg, paths, name).filter((p) => p.kind === "keepalived"),
    name,
    15_000,
  );
}

/**
 * The pid of a `--vip` node's PgBouncer or HAProxy. Pacemaker's HAProxy is no member process of ours: it is
 * found in the node's namespace by its config file, on the node that runs it.
 */
export function nodeProcessPid(
  paths: StackPaths,
  name: MemberName,
  kind: "pgbouncer" | "haproxy",
): number | undefined {
  const cfg = configOf(paths);
  const proc = processesOf(cfg, paths, name).find((p) => p.kind === kind);
  if (proc) return livePid(proc);
  const node = nodeOf(cfg, name);
  if (!node || vipManagerOf(cfg) !== "pacemaker") return undefined;
  return netnsPids(node.net.nodes[node.n].netns).find((pid) =>
    processCmdline(pid).includes(paths.vip.haproxyCfg),
  );
}

/** The pid of a `--vip pacemaker` node's cluster stack (its start script), if it runs. */
export function clusterPid(cfg: StackConfig, paths: StackPaths, name: MemberName): number | undefined {
  const proc = processesOf(cfg, paths, name).find((p) => p.kind === "cluster");
  return proc && livePid(proc);
}

async function stopProcesses(procs: MemberProcess[], name: MemberName, graceMs: number): Promise<void> {
  const pids = procs.map(livePid).filter((p): p is number => p !== undefined);
  for (const pid of pids) {
    if (processState(pid) === "T") process.kill(pid, "SIGCONT");
    // postgres: SIGINT = fast shutdown; pgbouncer: SIGTERM = immediate shutdown; haproxy: SIGTERM = hard stop.
    process.kill(pid, name === "postgres" ? "SIGINT" : "SIGTERM");
  }
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(50);
  for (const pid of pids.filter(isAlive)) {
    process.kill(pid, "SIGKILL");
    while (isAlive(pid)) await sleep(50);
  }
}
