import type { StopReason } from "../schema/result.js";
import type { DoneReason } from "./worker-handle.js";

export interface WorkerEnd {
  /** It exited or vanished before it was done. */
  dead: boolean;
  /** It died on its own (not killed by the runner). */
  died: boolean;
  doneReason: DoneReason | undefined;
}

export interface Settled {
  stopReason: StopReason;
  partial: boolean;
  exitCode: number;
}

/**
 * How a run ended, from the workers' ends and the stop the runner was asked for (a signal, --max-errors).
 * Partial: cut short before its planned end. Exit 1 for a crash or --max-errors; 130/143 for a signal that cut
 * a planned run short (a run with no planned end ends by a signal as planned).
 */
export function settle(
  workers: readonly WorkerEnd[],
  requested: { reason: "signal" | "max-errors"; signal?: NodeJS.Signals } | undefined,
  plannedEnd: boolean,
): Settled {
  const anyDied = workers.some((w) => w.died);
  const reasons = new Set(workers.map((w) => w.doneReason));
  const stopReason: StopReason =
    requested?.reason ?? (anyDied ? "worker-died" : reasons.has("deadline") ? "duration" : "iterations");
  const cutBySignal = stopReason === "signal" && plannedEnd;
  const partial = anyDied || workers.some((w) => w.dead) || stopReason === "max-errors" || cutBySignal;
  let exitCode = 0;
  if (anyDied || stopReason === "max-errors") exitCode = 1;
  else if (cutBySignal) exitCode = requested?.signal === "SIGTERM" ? 143 : 130;
  return { stopReason, partial, exitCode };
}
