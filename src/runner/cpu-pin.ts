import { accessSync, constants, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { UsageError } from "../errors.js";
import { parseCpuList } from "../options/cpu-list.js";

/**
 * Pinning worker processes to CPUs (`--pin`), on Linux. Each pinned worker is started through util-linux's
 * taskset, so the worker and every thread it starts later keep to one CPU from their first instruction.
 * That includes the open-loop pacing thread. Node has no affinity API, and taskset ships with every Linux
 * distribution.
 */

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
