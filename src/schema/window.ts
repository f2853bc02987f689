/**
 * The measured window and the load generator's health over it: part of the result-file contract (imports
 * nothing of ours). Absent in files written before the window was time on the clock.
 */

/** What ended the warm-up. */
export type WarmupEnd =
  /** --warmup DURATION, or the default for a short run: a fixed time. */
  | "fixed"
  /** The server's (or the poolers') connections stopped growing and the cycle rate was stable. */
  | "steady"
  /** --warmup-max passed before the run was steady: measured as it was, and said so. */
  | "max"
  /** No warm-up (--warmup 0, --iterations, or a run under 5 s). */
  | "none";

/** Connections as the samplers saw them at an instant (absent: not sampled). */
export interface ConnectionState {
  /** Backends on the server (pg_stat_activity, the samplers' own left out). */
  dbSessions?: number;
  /** Server connections the PgBouncers held (active + idle + used). */
  poolerServerConns?: number;
  /** Clients queued in the PgBouncers for a server connection. */
  poolerClientsWaiting?: number;
}

export interface WindowInfo {
  /** The common start t0 every worker counted from (ISO 8601, ms): what `from` and `to` are after. */
  t0: string;
  /** Seconds after t0: the window is [from, to). */
  from: number;
  to: number;
  /** to − from: the denominator of every rate (the result's `elapsedSec`). */
  seconds: number;
  /**
   * Of those, the seconds the load generator kept its interval clock: `seconds` less the longest time one of its
   * processes was frozen for an interval or more at a time (stopped, or starved of CPU) inside the window.
   */
  measuredSec: number;
  warmup: {
    endedBy: WarmupEnd;
    /** From the end of the ramp to the window's start. */
    seconds: number;
    /** The figures the decision was made on, in words. */
    detail: string;
  };
  atStart?: ConnectionState;
  atEnd?: ConnectionState;
  /** Cycles of the window (started in it) that ended after its end, during the drain: in the counts and percentiles. */
  drained: number;
  /** Cycles of the window still running when the drain ended: in neither the counts nor the percentiles. */
  cutOff: number;
  /** How long the drain lasted, in seconds after `to`. */
  drainSec: number;
}

/** Whether the load generator, not the target, bounded what was measured, and the figures that say so. */
export interface GeneratorVerdict {
  starved: boolean;
  /** One sentence per sign that was found (empty when none). */
  reasons: string[];
  /** CPU of the runner and workers over the window, as a share of the host's CPUs (%). */
  hostSharePct: number;
  /** The busiest worker's CPU over the window (% of one core: one event loop). */
  busiestWorkerPct: number;
  /**
   * The longest time one generator process was frozen inside the window, in freezes of an interval or more (its
   * interval clock lost: a stopped process, or one starved of CPU for that long), in seconds.
   */
  frozenSec: number;
  /** The same for every hold-up of its event loop of 0.2 s or more: how long it could not run when it had to. */
  delayedSec: number;
  /** Intervals whose snapshot came more than one interval late. */
  lateIntervals: number;
  /** Open loop: the start lag's p99 (ms). */
  lagP99Ms?: number;
}
