import { existsSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import {
  bouncerProcs,
  readStackConfig,
  type MemberName,
  type StackConfig,
  type StackPaths,
} from "./layout.js";
import {
  isAlive,
  processCmdline,
  processState,
  runAs,
  sleep,
  spawnDetachedAs,
  type Binaries,
  type ServiceUser,
} from "./system.js";

export const SIGNALS = ["TERM", "INT", "KILL", "STOP", "CONT", "HUP", "QUIT"] as const;
export type SignalName = (typeof SIGNALS)[number];

export interface MemberStatus {
  name: MemberName;
  port: number;
  pid?: number;
  /** Every live process of the member: a pooler node with --pgbouncer-procs N has up to N. */
  pids?: number[];
  /** How many processes the member should have. */
  procs: number;
  /** running, stopped (SIGSTOP), or down (no process left). */
  state: "running" | "stopped" | "down";
}

/** One process of a member: its pidfile, and a path on its command line that proves a pid is ours. */
interface MemberProcess {
  pidFile: string;
  identity: string;
  log: string;
}

function processesOf(cfg: StackConfig, paths: StackPaths, name: MemberName): MemberProcess[] {
  switch (name) {
    case "postgres":
      return [{ pidFile: paths.pgPid, identity: paths.pgData, log: paths.pgLog }];
    case "haproxy":
      return [{ pidFile: paths.haproxy.pid, identity: paths.haproxy.cfg, log: paths.haproxy.cfg }];
    case "pgbouncer-1":
    case "pgbouncer-2": {
      const n = name === "pgbouncer-1" ? 1 : 2;
      return Array.from({ length: bouncerProcs(cfg) }, (_, i) => {
        const b = paths.bouncer(n, i + 1);
        return { pidFile: b.pid, identity: b.ini, log: b.log };
      });
    }
  }
}

export function memberPort(cfg: StackConfig, name: MemberName): number {
  const map: Record<MemberName, number> = {
    postgres: cfg.ports.postgres,
    "pgbouncer-1": cfg.ports.pgbouncer1,
    "pgbouncer-2": cfg.ports.pgbouncer2,
    haproxy: cfg.ports.haproxy,
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

function configOf(paths: StackPaths): StackConfig {
  const cfg = readStackConfig(paths);
  if (!cfg) throw new Error(`no stack in ${paths.dir}`);
  return cfg;
}

export function memberStatus(cfg: StackConfig, paths: StackPaths, name: MemberName): MemberStatus {
  const pids = memberPids(cfg, paths, name);
  const port = memberPort(cfg, name);
  const procs = processesOf(cfg, paths, name).length;
  if (pids.length === 0) return { name, port, procs, state: "down" };
  const stopped = pids.every((pid) => processState(pid) === "T");
  return { name, port, pid: pids[0], pids, procs, state: stopped ? "stopped" : "running" };
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
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
  let listening = false;
  while (Date.now() < deadline) {
    listening ||= await portAnswers(port);
    if (listening && livePid(proc) !== undefined) return;
    await sleep(50);
  }
  throw new Error(
    listening
      ? `${name} listens on 127.0.0.1:${port} but no pidfile names it after 10s (see ${proc.log})`
      : `${name} did not start listening on 127.0.0.1:${port} within 10s (see ${proc.log})`,
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
  for (const proc of processesOf(cfg, paths, name)) {
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
  if (name === "haproxy") {
    if (!bins.haproxy) throw new Error("haproxy binary not found (apt-get install -y haproxy)");
    const code = await spawnDetachedAs(user, bins.haproxy, ["-D", "-f", proc.identity, "-p", proc.pidFile]);
    if (code !== 0) throw new Error(`haproxy exited with code ${code} (check ${proc.identity})`);
    return;
  }
  const code = await spawnDetachedAs(user, bins.pgbouncer, ["-d", proc.identity]);
  if (code !== 0) throw new Error(`${name} exited with code ${code} (see ${proc.log})`);
}

/** "pid 12" or "pids 12, 13": a pooler node may run several processes. */
export function pidList(pids: number[]): string {
  return `${pids.length === 1 ? "pid" : "pids"} ${pids.join(", ")}`;
}

/** Sends a signal to every process of a member; returns their pids. */
export function signalMember(paths: StackPaths, name: MemberName, signal: SignalName): number[] {
  const pids = memberPids(configOf(paths), paths, name);
  if (pids.length === 0) throw new Error(`${name} is not running`);
  for (const pid of pids) process.kill(pid, `SIG${signal}`);
  return pids;
}

/** Stops a member (fast shutdown for postgres, immediate for pgbouncer/haproxy), SIGKILL after the grace time. */
export async function stopMember(
  cfg: StackConfig,
  paths: StackPaths,
  name: MemberName,
  graceMs = 15_000,
): Promise<void> {
  const pids = memberPids(cfg, paths, name);
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
