import { execFileSync, spawn, type SpawnOptions } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { UsageError } from "../errors.js";

/** The unprivileged account that runs the stack's servers, and how to run a command as it. */
export interface ServiceUser {
  name: string;
  uid: number;
  gid: number;
  /** true when we are root and must switch to `name` (initdb, postgres and pgbouncer refuse root). */
  switchUser: boolean;
}

export interface Binaries {
  initdb: string;
  pgCtl: string;
  postgres: string;
  pgbouncer: string;
  haproxy?: string;
  keepalived?: string;
  corosync?: string;
  pacemakerd?: string;
}

const SBIN_DIRS = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

function onPath(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), ...SBIN_DIRS];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** PostgreSQL's server binaries: $DCPBENCH_PG_BIN, else Debian's newest /usr/lib/postgresql/N/bin, else PATH. */
function postgresBinDir(): string | undefined {
  const fromEnv = process.env.DCPBENCH_PG_BIN;
  if (fromEnv) return fromEnv;
  const root = "/usr/lib/postgresql";
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return join(root, versions[0], "bin");
  }
  const initdb = onPath("initdb");
  return initdb ? join(initdb, "..") : undefined;
}

/** A PostgreSQL client program (pgbench, psql) of the same installation as the servers. */
export function pgProgram(name: string): string | undefined {
  const dir = postgresBinDir();
  return dir && existsSync(join(dir, name)) ? join(dir, name) : onPath(name);
}

/** Resource agents that `--vip pacemaker` runs: the VIP itself, and the generic one that runs HAProxy. */
export const OCF_AGENTS = ["IPaddr2", "anything"].map((a) => `/usr/lib/ocf/resource.d/heartbeat/${a}`);

/** What `--vip pacemaker` needs besides the stack's servers, by Debian package. */
function pacemakerMissing(): string[] {
  const missing: string[] = [];
  if (!onPath("corosync")) missing.push("corosync");
  if (!onPath("pacemakerd")) missing.push("pacemaker");
  if (!onPath("crm_resource") || !onPath("cibadmin")) missing.push("pacemaker-cli-utils");
  if (!OCF_AGENTS.every((a) => existsSync(a))) missing.push("resource-agents");
  // The seed's fencing agent.
  if (!onPath("fence_dummy")) missing.push("fence-agents");
  return missing;
}

/** Finds the stack's binaries or fails with one line naming the Debian packages to install. */
export function findBinaries(needHaproxy: boolean, vipManager?: "keepalived" | "pacemaker"): Binaries {
  const pgBin = postgresBinDir();
  const pgbouncer = onPath("pgbouncer");
  const haproxy = onPath("haproxy");
  const keepalived = onPath("keepalived");
  const missing: string[] = [];
  if (vipManager === "keepalived" && !keepalived) missing.push("keepalived");
  if (vipManager === "pacemaker") missing.push(...pacemakerMissing());
  if (!pgBin || !existsSync(join(pgBin, "postgres"))) missing.push("postgresql-15");
  if (!pgbouncer) missing.push("pgbouncer");
  if (needHaproxy && !haproxy) missing.push("haproxy");
  if (missing.length > 0 || !pgBin || !pgbouncer) {
    throw new UsageError(
      `missing server binaries; install the Debian packages: apt-get install -y ${missing.join(" ")} ` +
        `(in a checkout of dcpbench, 'bash scripts/setup.sh' as root does it)`,
    );
  }
  return {
    initdb: join(pgBin, "initdb"),
    pgCtl: join(pgBin, "pg_ctl"),
    postgres: join(pgBin, "postgres"),
    pgbouncer,
    haproxy,
    keepalived,
    corosync: onPath("corosync"),
    pacemakerd: onPath("pacemakerd"),
  };
}

/** An account of this machine by name, as a ServiceUser to switch to; undefined if there is none. */
export function accountNamed(name: string): ServiceUser | undefined {
  const entry = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((line) => line.split(":"))
    .find((fields) => fields[0] === name);
  return entry && { name, uid: Number(entry[2]), gid: Number(entry[3]), switchUser: true };
}

/** The account the servers run as: ourselves, or (as root) $DCPBENCH_STACK_USER / Debian's `postgres`. */
export function serviceUser(): ServiceUser {
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0) {
    return { name: process.env.USER ?? String(uid), uid, gid: process.getgid?.() ?? uid, switchUser: false };
  }
  const name = process.env.DCPBENCH_STACK_USER ?? "postgres";
  const account = accountNamed(name);
  if (!account) {
    throw new UsageError(
      `running as root needs an unprivileged user to run postgres and pgbouncer; user '${name}' does not exist ` +
        `(install postgresql-15, which creates 'postgres', or set DCPBENCH_STACK_USER)`,
    );
  }
  return account;
}

/**
 * argv that runs `cmd args` as the service user. setpriv (util-linux), not runuser/su: those go through
 * PAM, which resets the open-file limit to 1024, and PgBouncer needs ours for 10,000 clients.
 */
export function asUser(user: ServiceUser, cmd: string, args: string[]): [string, string[]] {
  return user.switchUser
    ? ["setpriv", [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups", "--", cmd, ...args]]
    : [cmd, args];
}

/** Runs a short command as the service user and returns its stdout; throws with its stderr on failure. */
export function runAs(user: ServiceUser, cmd: string, args: string[], cwd?: string): string {
  const [file, argv] = asUser(user, cmd, args);
  try {
    return execFileSync(file, argv, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const detail = (e.stderr ?? "").trim().split("\n").slice(-3).join(" | ") || e.message;
    throw new Error(`${cmd.split("/").pop()} failed: ${detail}`, { cause: err });
  }
}

/** Starts a daemon as ourselves (root: it enters a namespace) in its own session; resolves with its exit code. */
export function spawnDetached(cmd: string, args: string[]): Promise<number> {
  return spawnDetachedAs({ name: "", uid: 0, gid: 0, switchUser: false }, cmd, args);
}

/** Starts a long-lived command as the service user in its own session, so a Ctrl-C aimed at us spares it. */
export function spawnDetachedAs(
  user: ServiceUser,
  cmd: string,
  args: string[],
  opts: SpawnOptions = {},
): Promise<number> {
  const [file, argv] = asUser(user, cmd, args);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { detached: true, stdio: "ignore", ...opts });
    child.once("error", reject);
    child.once("exit", (code) => resolve(code ?? 1));
  });
}

/**
 * Starts a command that stays in the foreground, in its own session, its output appended to a file; does not
 * wait for it (whoever started it watches its pidfile).
 */
export function launchDetached(cmd: string, args: string[], outFile: string): void {
  const fd = openSync(outFile, "a");
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ["ignore", fd, fd] });
    // A failure to start shows as a pidfile that never comes.
    child.once("error", () => undefined);
    child.unref();
  } finally {
    closeSync(fd);
  }
}

/** Resolves when 127.0.0.1:port is free to bind, with the port's name in the error otherwise. */
export function assertPortFree(port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", () =>
      reject(
        new UsageError(`port ${port} (${what}) is already in use on 127.0.0.1; choose another --port-base`),
      ),
    );
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve()));
  });
}

/** True while pid names a live (not zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return processState(pid) !== "Z";
}

/** The process's state letter from /proc (R, S, T for stopped, Z…), or undefined when it is gone. */
export function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

export function processCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/** Direct children of pid (from /proc), used to prove that nothing was left behind. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
