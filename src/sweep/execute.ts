import { measuredCold } from "../results/window-notes.js";
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CliError, UsageError } from "../errors.js";
import { formatDuration } from "../options/units.js";
import type { RunPlan } from "../plan.js";
import { writeSweepIndex } from "../results/sweeps/index-file.js";
import { executeRun, type RunOptions } from "../run/execute.js";
import type { Interrupts } from "../runner/interrupts.js";
import { CYCLE } from "../schema/measures.js";
import type { ResultFile } from "../schema/result.js";
import {
  SWEEP_SCHEMA,
  SWEEP_VERSION,
  type SweepIndex,
  type SweepPlan,
  type SweepPoint,
} from "../schema/sweep.js";
import { VERSION } from "../version.js";
import { pointLabel, pointOrder, samePoint, type PointSpec } from "./plan.js";

export interface SweepSetup {
  plan: SweepPlan;
  indexPath: string;
  /** The index of an interrupted sweep to continue (--resume): its finished points are not run again. */
  resumed?: SweepIndex;
  /** Each point's complete run plan by its label (built and checked before the first point runs). */
  runPlans: Map<string, RunPlan>;
  /** What a point's run needs besides its plan: where to observe, the target's checks. */
  runOptions(point: PointSpec, plan: RunPlan): Omit<RunOptions, "say" | "interrupts">;
  /** Local stack only: sets PgBouncer's default_pool_size before a point that needs another. */
  setPoolSize?(size: number): Promise<void>;
  /** Local stack only: restarts its PgBouncers with N processes per node before a point that needs another N. */
  setPgbouncerProcs?(procs: number): Promise<void>;
  /** Before every point: let the previous point's sessions go (e.g. the stack's PgBouncers' idle servers). */
  settle?(): Promise<void>;
  /** --reinit: the workload's tables as init leaves them, before every point (cancelled by Ctrl-C). */
  reinit?(interrupt: AbortSignal): Promise<void>;
  say(line: string): void;
  interrupts: Interrupts;
}

export interface SweepOutcome {
  index: SweepIndex;
  /** The signal that stopped the sweep, if one did. */
  interrupted?: NodeJS.Signals;
  /** Why the sweep stopped before its end, when a point could not be prepared. */
  failure?: string;
}

function newIndex(plan: SweepPlan): SweepIndex {
  const now = new Date().toISOString();
  return {
    schema: SWEEP_SCHEMA,
    version: SWEEP_VERSION,
    tool: { name: "dcpbench", version: VERSION },
    workload: plan.workload,
    startedAt: now,
    updatedAt: now,
    complete: false,
    plan,
    points: [],
  };
}

/** A point whose run finished: not cut by Ctrl-C, not failed, and its result file still there. */
function finishedIn(index: SweepIndex, indexPath: string): (p: PointSpec) => boolean {
  const dir = dirname(resolve(indexPath));
  return (p) =>
    index.points.some(
      (q) => samePoint(q, p) && q.file !== null && !q.partial && !q.error && existsSync(join(dir, q.file)),
    );
}

function pointLine(p: SweepPoint, r: ResultFile): string {
  const c = r.summary[CYCLE];
  const errors = c ? Object.values(c.errors).reduce((a, b) => a + b, 0) : 0;
  return (
    `sweep: ${pointLabel(p)} → ${c ? `${c.rate.toFixed(1)} cycles/s, p50 ${c.p50.toFixed(2)} ms, ` : ""}` +
    `${c ? `p99 ${c.p99.toFixed(2)} ms, ` : ""}${errors} errors${r.partial ? ` (partial: ${r.stopReason})` : ""}` +
    (r.generator?.starved ? "; GENERATOR-STARVED" : "") +
    (measuredCold(r) ? "; MEASURED COLD" : "")
  );
}

/**
 * Runs a sweep's points in their order (see pointOrder), one ordinary run each, and keeps the index on disk
 * up to date after every point, so that an interrupted sweep loses at most the point it was running. Ctrl-C
 * stops the running point (its result is kept, marked partial) or the pause, pool change or re-init before
 * it, and the sweep. A failure to prepare a point (PgBouncer unreachable for a pool change) ends the sweep too.
 */
export async function runSweep(setup: SweepSetup): Promise<SweepOutcome> {
  const { plan, say } = setup;
  const index = setup.resumed ?? newIndex(plan);
  const order = pointOrder(plan);
  const finished = finishedIn(index, setup.indexPath);
  const todo = order.filter((p) => !finished(p));
  const listeners = new Set<(s: NodeJS.Signals) => void>();
  const abort = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const unsubscribe = setup.interrupts.subscribe((signal) => {
    interrupted = signal;
    abort.abort();
    for (const l of listeners) l(signal);
  });
  // A signal that came while the point was starting (before its runner listened) still stops that point.
  const forRun: Interrupts = {
    subscribe(fn) {
      listeners.add(fn);
      if (interrupted) setImmediate(() => listeners.has(fn) && fn(interrupted!));
      return () => listeners.delete(fn);
    },
  };
  const started = Date.now();
  let poolSize: number | null = null;
  let procs: number | undefined;
  let failure: string | undefined;
  try {
    for (const [i, point] of todo.entries()) {
      if (i > 0 && plan.pauseMs > 0)
        await sleep(plan.pauseMs, undefined, { signal: abort.signal }).catch(() => {});
      try {
        if (!interrupted && point.procs !== undefined && point.procs !== procs) {
          await setup.setPgbouncerProcs!(point.procs);
          procs = point.procs;
          // The restarted PgBouncers read the stack's own pool size: set the point's again.
          poolSize = null;
        }
        if (!interrupted && point.poolSize !== null && point.poolSize !== poolSize) {
          await setup.setPoolSize!(point.poolSize);
          poolSize = point.poolSize;
        }
        if (!interrupted) await setup.settle?.();
        if (!interrupted) await setup.reinit?.(abort.signal);
      } catch (err) {
        if (interrupted) break;
        if (err instanceof UsageError) throw err;
        failure = `cannot prepare ${pointLabel(point)}: ${(err as Error).message}`;
        say(`sweep: ${failure}`);
        break;
      }
      if (interrupted) break;
      const elapsed = Date.now() - started;
      const left = i > 0 ? `, about ${formatDuration((elapsed / i) * (todo.length - i))} left` : "";
      say(
        `sweep: point ${order.length - todo.length + i + 1} of ${order.length}: ${pointLabel(point)} ` +
          `(elapsed ${formatDuration(elapsed)}${left})`,
      );
      const record = await runPoint(setup, point, forRun);
      index.points = index.points.filter((q) => !samePoint(q, point)).concat(record.point);
      index.updatedAt = new Date().toISOString();
      index.complete = order.every(finished);
      writeSweepIndex(setup.indexPath, index);
      if (record.result) say(pointLine(record.point, record.result));
      if (record.point.error) say(`sweep: ${pointLabel(point)} failed: ${record.point.error}`);
    }
  } finally {
    unsubscribe();
  }
  index.complete = order.every(finished);
  writeSweepIndex(setup.indexPath, index);
  return { index, interrupted, failure };
}

async function runPoint(
  setup: SweepSetup,
  point: PointSpec,
  interrupts: Interrupts,
): Promise<{ point: SweepPoint; result?: ResultFile }> {
  const runPlan = setup.runPlans.get(pointLabel(point))!;
  try {
    const { result, files } = await executeRun(runPlan, {
      ...setup.runOptions(point, runPlan),
      say: setup.say,
      interrupts,
    });
    const file = relative(dirname(resolve(setup.indexPath)), resolve(files.json));
    const cut = result.partial && result.stopReason === "signal";
    // A run that failed on its own (a worker died, --max-errors) is kept for inspection, not counted.
    const failed = !cut && result.exitCode !== 0 && result.exitCode !== 3;
    const error = failed ? `the run ended with exit ${result.exitCode} (${result.stopReason})` : undefined;
    return {
      point: { ...point, file, partial: cut, exitCode: result.exitCode, ...(error ? { error } : {}) },
      result,
    };
  } catch (err) {
    // Bad input would fail every point alike: it stops the sweep. A run that could not start is one failed point.
    if (err instanceof UsageError || !(err instanceof CliError)) throw err;
    return { point: { ...point, file: null, partial: false, exitCode: err.exitCode, error: err.message } };
  }
}
