import { existsSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import type { MemberName, StackConfig, StackPaths } from "./layout.js";
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
  /** running, stopped (SIGSTOP), or down. */
  state: "running" | "stopped" | "down";
}

function pidFile(paths: StackPaths, name: MemberName): string {
  switch (name) {
    case "postgres":
      return paths.pgPid;
    case "pgbouncer-1":
      return paths.bouncer(1).pid;
    case "pgbouncer-2":
      return paths.bouncer(2).pid;
    case "haproxy":
      return paths.haproxy.pid;
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

/** A path that appears on the member's command line, so a recycled pid is never mistaken for ours. */
function identity(paths: StackPaths, name: MemberName): string {
  switch (name) {
    case "postgres":
      return paths.pgData;
    case "pgbouncer-1":
      return paths.bouncer(1).ini;
    case "pgbouncer-2":
      return paths.bouncer(2).ini;
    case "haproxy":
      return paths.haproxy.cfg;
  }
}

/** The recorded pid of a member, only if that process is alive and really is this member. */
export function memberPid(paths: StackPaths, name: MemberName): number | undefined {
  const file = pidFile(paths, name);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").split("\n")[0].trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  return processCmdline(pid).includes(identity(paths, name)) ? pid : undefined;
}

export function memberStatus(cfg: StackConfig, paths: StackPaths, name: MemberName): MemberStatus {
  const pid = memberPid(paths, name);
  const port = memberPort(cfg, name);
  if (pid === undefined) return { name, port, state: "down" };
  return { name, port, pid, state: processState(pid) === "T" ? "stopped" : "running" };
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
 * Waits until a daemon member listens on its port and its pidfile names it: the pidfile can come after the
 * socket (PgBouncer listens, then daemonizes and writes it), and a member counts as running by its pidfile.
 */
async function waitUntilUp(
  cfg: StackConfig,
  paths: StackPaths,
  name: MemberName,
  log: string,
): Promise<void> {
  const port = memberPort(cfg, name);
  const deadline = Date.now() + 10_000;
  let listening = false;
  while (Date.now() < deadline) {
    listening ||= await portAnswers(port);
    if (listening && memberPid(paths, name) !== undefined) return;
    await sleep(50);
  }
  throw new Error(
    listening
      ? `${name} listens on 127.0.0.1:${port} but no pidfile names it after 10s (see ${log})`
      : `${name} did not start listening on 127.0.0.1:${port} within 10s (see ${log})`,
  );
}

/** Starts one member and waits until it accepts connections and its pidfile names it. */
export async function startMember(
  name: MemberName,
  cfg: StackConfig,
  paths: StackPaths,
  bins: Binaries,
  user: ServiceUser,
): Promise<void> {
  // A member that died without cleaning up leaves its pidfile; PgBouncer refuses to start over it.
  if (memberPid(paths, name) === undefined && name !== "postgres")
    rmSync(pidFile(paths, name), { force: true });
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
    const code = await spawnDetachedAs(user, bins.haproxy, [
      "-D",
      "-f",
      paths.haproxy.cfg,
      "-p",
      paths.haproxy.pid,
    ]);
    if (code !== 0) throw new Error(`haproxy exited with code ${code} (check ${paths.haproxy.cfg})`);
    await waitUntilUp(cfg, paths, name, paths.haproxy.cfg);
    return;
  }
  const n = name === "pgbouncer-1" ? 1 : 2;
  const b = paths.bouncer(n);
  const code = await spawnDetachedAs(user, bins.pgbouncer, ["-d", b.ini]);
  if (code !== 0) throw new Error(`${name} exited with code ${code} (see ${b.log})`);
  await waitUntilUp(cfg, paths, name, b.log);
}

/** Sends a signal to a member by its recorded pid. */
export function signalMember(paths: StackPaths, name: MemberName, signal: SignalName): number {
  const pid = memberPid(paths, name);
  if (pid === undefined) throw new Error(`${name} is not running`);
  process.kill(pid, `SIG${signal}`);
  return pid;
}

/** Stops a member (fast shutdown for postgres, immediate for pgbouncer/haproxy), SIGKILL after the grace time. */
export async function stopMember(paths: StackPaths, name: MemberName, graceMs = 15_000): Promise<void> {
  const pid = memberPid(paths, name);
  if (pid === undefined) return;
  if (processState(pid) === "T") process.kill(pid, "SIGCONT");
  // postgres: SIGINT = fast shutdown; pgbouncer: SIGTERM = immediate shutdown; haproxy: SIGTERM = hard stop.
  process.kill(pid, name === "postgres" ? "SIGINT" : "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(50);
  if (isAlive(pid)) {
    process.kill(pid, "SIGKILL");
    while (isAlive(pid)) await sleep(50);
  }
}
