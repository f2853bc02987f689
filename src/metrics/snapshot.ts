import type { Counts } from "./histogram.js";
import type { ErrorClass } from "../schema/measures.js";
import type { ErrorSample, Outage } from "../schema/measures.js";

/** One op's numbers over one interval, as a worker sends them (histograms as their non-zero buckets). */
export interface OpSnapshot {
  /** Successful executions, each with one latency in `hist`. */
  count: number;
  /** Latency histogram (µs): for __cycle__ in open loop, from the intended start. */
  hist?: Counts;
  /** Service time histogram (µs, from the actual start): __cycle__ in open loop only. */
  service?: Counts;
  errors: Partial<Record<ErrorClass, number>>;
  sqlstates: Record<string, number>;
  skipped: number;
  retries: number;
  /** Transactions whose COMMIT lost its connection: they may have committed (also counted in errors). */
  ambiguous?: number;
}

/**
 * A stretch of at least STALL_MIN_SEC in one worker, in seconds since t0: from the last success before (or, for a
 * stall, from when work was waiting) to the first success after; `open` when it lasted until the worker's end.
 */
export interface Stall {
  from: number;
  to: number;
  open?: true;
}

export interface Snapshot {
  /** 1-based interval number; the final snapshot covers the partial interval at the end. */
  seq: number;
  final: boolean;
  /** Seconds since the common start, at the end of this interval. */
  t: number;
  /** What completed in this interval of the cycles that started in the measured window. */
  ops: Record<string, OpSnapshot>;
  /** What completed in this interval of the other cycles (started in the warm-up, or after the window's end). */
  outside: Record<string, OpSnapshot>;
  reconnects: number;
  /** Open loop: intended starts in the window that came due before the stop but never began. */
  missed: number;
  /** Cycles of the window that ended after its end (in the drain). */
  drained: number;
  /** Final snapshot only: how the worker's window ended. */
  end?: {
    /** Seconds since t0 at which the worker stopped starting cycles of the window (its end, or a stop). */
    windowTo: number | null;
    /** Cycles of the window still running when the worker stopped (not recorded). */
    cutOff: number;
    /** Cycles started after the window still running when the worker stopped (not recorded, not needed). */
    abandoned: number;
  };
  samples: ErrorSample[];
  /** Outages that ended in this interval (the final snapshot also carries those still open). */
  outages: Outage[];
  /** Silences (no cycle succeeded, whether or not one was waiting) that ended in this interval. */
  silences: Stall[];
  /**
   * Stalls: silences while cycles were waiting (in flight, or failing and retrying), from the first waiting one;
   * errors are not needed (clients queued in a pooler just wait). The final snapshot carries open ones too.
   */
  stalls: Stall[];
  /** Stretches in which the worker's event loop did not run (the process starved or stopped): its own stalls. */
  freezes: Stall[];
  /** The process's own CPU time so far (µs) and peak RSS (KiB). */
  cpu: { user: number; system: number };
  maxRssKb: number;
}
