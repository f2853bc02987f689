import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Linux's USER_HZ: /proc/PID/stat counts CPU time in 1/100 s on every architecture Linux exports it for. */
const TICKS_PER_SEC = 100;

export interface ProcUsage {
  /** The root process read (a restart gives another: its CPU is not a continuation of the last one's). */
  root: number;
  /** CPU seconds (user + system) of the root, its live children, and its children that have ended. */
  cpuSec: number;
  /** Proportional set size summed over the processes (shared memory counted once in all), or null. */
  pssMb: number | null;
  /** Bytes the processes read from and wrote to storage (/proc/PID/io; live processes only), or null. */
  readBytes: number | null;
  writeBytes: number | null;
  processes: number;
}

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

/** utime, stime, cutime, cstime (ticks) and the parent of one process; undefined when it is gone. */
function stat(pid: number): { ppid: number; own: number; reaped: number; started: number } | undefined {
  const text = read(`/proc/${pid}/stat`);
  if (!text) return undefined;
  // The command name may hold spaces and parentheses: the fields start after the last ')' (field 3 on).
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return {
    ppid: Number(f[1]),
    own: Number(f[11]) + Number(f[12]),
    reaped: Number(f[13]) + Number(f[14]),
    started: Number(f[19]),
  };
}

/** The direct children of a process, from the kernel's own list when it has one, else a scan of /proc. */
export function childrenOf(pid: number): number[] {
  const list = read(`/proc/${pid}/task/${pid}/children`);
  if (list !== undefined) return list.trim().split(/\s+/).filter(Boolean).map(Number);
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => stat(p)?.ppid === pid);
}

function pssKb(pid: number): number | undefined {
  const m = /^Pss:\s+(\d+) kB/m.exec(read(`/proc/${pid}/smaps_rollup`) ?? "");
  return m ? Number(m[1]) : undefined;
}

function ioBytes(pid: number): { read: number; write: number } | undefined {
  const text = read(`/proc/${pid}/io`);
  const r = text && /^read_bytes:\s+(\d+)/m.exec(text);
  const w = text && /^write_bytes:\s+(\d+)/m.exec(text);
  return r && w ? { read: Number(r[1]), write: Number(w[1]) } : undefined;
}

/** Readings of the children's CPU that may race with their exit, before one that does not is given up on. */
const CPU_ATTEMPTS = 4;

/**
 * The CPU ticks of a root and all its children, live and ended, read consistently: the root's reaped-children
 * time before and after the children's own must agree, or a child read live and then reaped would count twice
 * (a backend exiting while 500 are read). When children keep exiting, those gone after the scan are left to the
 * root's reaped time. Also the children read, oldest first by start time (pids wrap around).
 */
function cpuTicks(root: number): { ticks: number; children: number[] } | undefined {
  let read: { before: number; after: number; own: Map<number, { own: number; started: number }> } | undefined;
  for (let attempt = 0; attempt < CPU_ATTEMPTS; attempt++) {
    const before = stat(root);
    if (!before) return undefined;
    const own = new Map<number, { own: number; started: number }>();
    for (const pid of childrenOf(root)) {
      const s = stat(pid);
      if (s) own.set(pid, { own: s.own, started: s.started });
    }
    const after = stat(root);
    if (!after) return undefined;
    read = { before: before.reaped, after: after.reaped + after.own, own };
    if (after.reaped === before.reaped) break;
    // A child was reaped during the scan: keep only those still there, whose time is not in the root's yet.
    const alive = new Set(childrenOf(root));
    const last = stat(root) ?? after;
    for (const pid of [...own.keys()]) if (!alive.has(pid)) own.delete(pid);
    read = { before: before.reaped, after: last.reaped + last.own, own };
  }
  if (!read) return undefined;
  const children = [...read.own.entries()].sort((a, b) => a[1].started - b[1].started);
  return {
    ticks: read.after + children.reduce((n, [, c]) => n + c.own, 0),
    children: children.map(([pid]) => pid),
  };
}

/**
 * What a server process and its children use now: PostgreSQL's postmaster and its backends, or a lone
 * PgBouncer or HAProxy. The CPU of children that have ended (a backend per connection, with
 * --connect-per-txn) is in the root's reaped-children times, so a sum over time never loses it.
 * PSS: reading smaps_rollup costs the kernel ~0.7 ms a process, too much for 500 backends every second, so
 * it is read for the root and at most `pssSample` children (taken in turn), and the children's mean is
 * counted for all of them. Undefined when the root is gone.
 */
export function procUsage(root: number, pssSample: number, turn = 0): ProcUsage | undefined {
  const cpu = cpuTicks(root);
  if (!cpu) return undefined;
  let readBytes: number | null = 0;
  let writeBytes: number | null = 0;
  for (const pid of [root, ...cpu.children]) {
    const io = ioBytes(pid);
    if (!io && pid !== root && !stat(pid)) continue; // exited since: its bytes went with it
    if (!io) readBytes = writeBytes = null;
    else if (readBytes !== null && writeBytes !== null) {
      readBytes += io.read;
      writeBytes += io.write;
    }
  }
  return {
    root,
    cpuSec: cpu.ticks / TICKS_PER_SEC,
    pssMb: estimatePssMb(root, cpu.children, pssSample, turn),
    readBytes,
    writeBytes,
    processes: 1 + cpu.children.length,
  };
}

/** PostgreSQL's auxiliary processes (checkpointer, writers, launchers) start first: the oldest children. */
const AUXILIARY = 8;

/**
 * `children` oldest first. The root and the oldest children (for PostgreSQL its auxiliary processes, which hold most of the shared
 * buffers' pages) are read exactly; the younger ones (the backends, alike) by a sample taken in turn, whose
 * mean counts for each of them. Checked against reading every process (BENCHMARKS.md, section 6).
 */
function estimatePssMb(root: number, children: number[], sample: number, turn: number): number | null {
  const sorted = children;
  const exact = [root, ...(sample > 0 ? sorted.slice(0, AUXILIARY) : [])].map(pssKb);
  if (exact.some((kb) => kb === undefined)) return null;
  const rest = sample > 0 ? sorted.slice(AUXILIARY) : [];
  const n = Math.min(sample, rest.length);
  const start = n > 0 ? (turn * n) % rest.length : 0;
  const kbs: number[] = [];
  for (let i = 0; i < n; i++) {
    const kb = pssKb(rest[(start + i) % rest.length]);
    if (kb !== undefined) kbs.push(kb);
  }
  if (n > 0 && kbs.length === 0) return null;
  const mean = kbs.length ? kbs.reduce((a, b) => a + b, 0) / kbs.length : 0;
  const known = exact.reduce((a, b) => a! + b!, 0)!;
  return +((known + mean * rest.length) / 1024).toFixed(1);
}

/**
 * The postmaster of a PostgreSQL backend, when the backend is a process of this host: its parent, if that is a
 * postgres process. Otherwise why it cannot be read (a server in a container or on another host has pids of its
 * own; a port found another way could belong to a proxy in front of the server).
 */
export function postmasterOf(backendPid: number, startedEpochSec: number): number | string {
  // A backend's title is "postgres: user db host state" (or the postmaster's own command line, titles off).
  const isPostgres = (pid: number) =>
    /^postgres[:\0 ]|(^|\/)(postgres|postmaster)\0/.test(read(`/proc/${pid}/cmdline`) ?? "");
  const parent = stat(backendPid)?.ppid;
  if (parent === undefined || !isPostgres(backendPid))
    return `the server's backend (pid ${backendPid}) is not a postgres process of this host that this user may read (a container, or another host)`;
  if (!isPostgres(parent))
    return `the parent of the server's backend (pid ${parent}) is not a postgres process`;
  // A server in a container numbers its processes itself: the same pid on this host may be another postgres.
  // The process starts first; the server records its start once it has set up (seconds later on a busy host).
  const started = startedEpoch(parent);
  if (started === undefined || started - startedEpochSec > 2 || startedEpochSec - started > 60)
    return `the postgres process ${parent} of this host did not start when the server did (the server runs in a container, or on another host)`;
  return parent;
}

/** When a process started, in seconds since the epoch (boot time plus its start in ticks after boot). */
function startedEpoch(pid: number): number | undefined {
  const boot = Number(/^btime (\d+)/m.exec(read("/proc/stat") ?? "")?.[1]);
  const ticks = stat(pid)?.started;
  return ticks !== undefined && boot > 0 ? boot + ticks / TICKS_PER_SEC : undefined;
}

/** The process listening on a local TCP port (IPv4 or IPv6), found through its socket's inode; needs /proc access to it. */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set<string>();
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of (read(file) ?? "").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the 10th field.
      if (f.length > 9 && f[1].endsWith(`:${hex}`) && f[3] === "0A") inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const dir of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${dir}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${dir}/fd/${fd}`));
        if (m && inodes.has(m[1])) return Number(dir);
      } catch {
        // gone meanwhile
      }
    }
  }
  return undefined;
}
