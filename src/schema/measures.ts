/** What a run measured, per op and per interval: part of the result-file contract (imports nothing of ours). */

/** The synthetic ops of `summary` and the timeline: the whole cycle, and connection set-up. */
export const CYCLE = "__cycle__";
export const CONNECT = "__connect__";
/** Open loop: how late each cycle started against its intended time (the harness's own scheduling lag). */
export const LAG = "__lag__";

/** The shortest silence recorded (as a silence, or as a stall): the floor of `stalls[]`. */
export const STALL_MIN_SEC = 0.2;

/**
 * How many times something happened: a whole number, never negative (the schema refuses what is not).
 * @asType integer
 * @minimum 0
 * @maximum 9007199254740991
 */
export type Count = number;
/**
 * A latency or a duration in milliseconds: never negative.
 * @minimum 0
 */
export type Millis = number;

export type ErrorClass = "connection" | "serialization" | "timeout" | "other";
export const ERROR_CLASSES: readonly ErrorClass[] = ["connection", "serialization", "timeout", "other"];
export type ErrorCounts = Record<ErrorClass, Count>;

/** Latency statistics in milliseconds. */
export interface LatencyStats {
  count: Count;
  mean: Millis;
  min: Millis;
  p50: Millis;
  p90: Millis;
  p95: Millis;
  p99: Millis;
  p999: Millis;
  max: Millis;
}

/** One op over the whole measured window. Latencies in ms. */
export interface OpSummary extends LatencyStats {
  /** Successful executions per second over the measured window. */
  /** @minimum 0 */
  rate: number;
  errors: ErrorCounts;
  sqlstates: Record<string, Count>;
  skipped: Count;
  retries: Count;
  /** Transactions whose COMMIT lost its connection (may have committed); also counted in errors.connection. */
  ambiguous: Count;
  /** Cumulative latency histogram (µs), HdrHistogram compressed base64: exact to merge. */
  histogram: string;
  /** Open loop __cycle__: service time (from the actual start) beside the latency (from the intended start). */
  service?: LatencyStats & { histogram: string };
}

/** One op over one interval of the timeline. Latencies in ms. */
export interface TimelineOp {
  count: Count;
  errors: Count;
  ambiguous?: Count;
  skipped: Count;
  retries: Count;
  p50: Millis;
  p95: Millis;
  p99: Millis;
  max: Millis;
  histogram?: string;
}

/**
 * Where an instant falls: before the measured window (ramp and warm-up), in it, or after its end (the drain,
 * while the window's last cycles finish under the same load). A cycle's phase is that of its start.
 */
export type Phase = "warmup" | "window" | "after";

export interface TimelineEntry {
  seq: number;
  /** Seconds since the common start at the end of this interval. */
  t: number;
  /**
   * Length of the interval in seconds.
   * @minimum 0
   */
  dt: number;
  /** Not in the measured window (ramp, warm-up or after its end): `phase` says which. */
  ramp: boolean;
  /** Where the interval falls on the clock; absent in files written before the window was time. */
  phase?: Phase;
  /** Everything that completed in this interval, whatever the phase of its start (what the server did then). */
  ops: Record<string, TimelineOp>;
  /**
   * Of `ops`, per op, the completions that belong to the measured window (their cycle started in it): summed over
   * the timeline they are the summary's counts. Absent in files written before: every non-ramp entry's `ops`.
   */
  window?: Record<string, Count>;
  reconnects: Count;
  /** Server-side samples at the end of this interval (database sessions, PgBouncer pools), when observed. */
  observed?: Record<string, number>;
  /** Faults carried out during this interval (--fault). */
  faults?: string[];
}

export interface ErrorSample {
  op: string;
  cls: ErrorClass;
  sqlstate?: string;
  message: string;
}

export interface CountedSample extends ErrorSample {
  count: number;
}

/** One client's loss of service: last success before its first error → first success after (seconds since t0). */
export interface Outage {
  client: number;
  /** The last success before (the start of the run when there was none). */
  from: number;
  /** The first error. */
  firstError: number;
  /** The first success after; null when the client never recovered before the end. */
  to: number | null;
  errors: number;
  /** Of those errors, COMMITs whose outcome is unknown. */
  ambiguous: number;
}

/** A stretch in which no cycle succeeded anywhere (seconds since t0); `to` null: it lasted until the end. */
export interface SystemStall {
  from: number;
  to: number | null;
  seconds: number | null;
}
