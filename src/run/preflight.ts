import { accessSync, constants, existsSync, statSync } from "node:fs";
import { UsageError } from "../errors.js";
import type { RunPlan } from "../plan.js";
import { ensureDir } from "../results/io/write.js";
import { allowedCpus, requireTaskset } from "../runner/cpu-pin.js";
import { openFileLimit } from "../stack/files.js";

/** Checks that need the machine: the open-file limit, a writable --out. Before any connection is made. */
export function preflight(plan: RunPlan): void {
  // A connection is an open file in its worker: the clients' and the idle ones' alike.
  const perWorker = Math.ceil(plan.conns / plan.workers) + Math.ceil((plan.idleConns ?? 0) / plan.workers);
  const limit = openFileLimit();
  if (perWorker + 64 > limit) {
    const idle = plan.idleConns ? ` and --idle-conns ${plan.idleConns}` : "";
    throw new UsageError(
      `--conns ${plan.conns}${idle} over ${plan.workers} workers needs ~${perWorker + 64} open files per worker; ` +
        `the open-file limit is ${limit} (raise it with ulimit -n, or add --workers)`,
    );
  }
  if (plan.pin) {
    if (process.platform !== "linux") throw new UsageError("--pin works on Linux only (it uses taskset)");
    requireTaskset();
    const allowed = allowedCpus();
    const outside = allowed ? plan.pin.filter((c) => !allowed.includes(c)) : [];
    if (outside.length) {
      throw new UsageError(
        `--pin: CPU ${outside.join(",")} is not one this process may run on (allowed: ${allowed!.join(",")})`,
      );
    }
  }
  if (existsSync(plan.outDir) && !statSync(plan.outDir).isDirectory())
    throw new UsageError(
      `--out ${plan.outDir} is a file, not a directory: name a directory for the result files`,
    );
  try {
    ensureDir(plan.outDir);
    accessSync(plan.outDir, constants.W_OK);
  } catch {
    throw new UsageError(`--out ${plan.outDir} is not a writable directory`);
  }
}
