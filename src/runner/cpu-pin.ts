import { accessSync, constants, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { UsageError } from "../errors.js";

/**
 * Pinning worker processes to CPUs (`--pin`), on Linux. Each pinned worker is started through util-linux's
 * taskset, so the worker and every thread it starts later keep to one CPU from their first instruction.
 * That includes the open-loop pacing thread. Node has no affinity API, and taskset ships with every Linux
 * distribution.
 */

/** The highest CPU number a list may name (a typo such as 0-99999999 is an error, not a loop). */
const MAX_CPU = 4095;

/** "1", "0,2", "2-5", "0-1,4" → the CPUs in the order given, each once; undefined when it is not such a list. */
export function parseCpuList(text: string): number[] | undefined {
  const out: number[] = [];
  for (const part of String(text).split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    if (hi < lo || hi > MAX_CPU) return undefined;
    for (let c = lo; c <= hi; c++) if (!out.includes(c)) out.push(c);
  }
  return out;
}

/** The CPUs this process may run on (Linux's Cpus_allowed_list), or undefined where that is not known. */
export function allowedCpus(statusFile = "/proc/self/status"): number[] | undefined {
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(statusFile, "utf8"));
    return m ? parseCpuList(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** taskset's path, found on PATH, or undefined. */
export function findTaskset(path = process.env.PATH ?? ""): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, "taskset");
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** taskset's path, or a usage error for --pin when there is none. */
export function requireTaskset(): string {
  const taskset = findTaskset();
  if (!taskset) throw new UsageError("--pin needs taskset (util-linux) on PATH");
  return taskset;
}

/** fork() options that start Node, with `execArgv`, pinned to `cpu`: taskset runs Node in its place (`-c`: util-linux and BusyBox both know it). */
export function pinnedFork(
  cpu: number,
  taskset: string,
  execArgv: string[],
): { execPath: string; execArgv: string[] } {
  return { execPath: taskset, execArgv: ["-c", String(cpu), process.execPath, ...execArgv] };
}
