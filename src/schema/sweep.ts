/**
 * The sweep index (`sweep_*.json`): what `dcpbench sweep` ran and where each point's result file is. Each point is
 * an ordinary result file; the index only lists them, with the sweep's plan, so that `report` and `--resume` can
 * find them. Part of the result-file contract (imports nothing of ours).
 */
import type { Arrival, Driver, IterationsSplit, Knobs, QueryMode } from "./plan.js";

export const SWEEP_SCHEMA = "dcpbench.sweep";
export const SWEEP_VERSION = 1;

export interface SweepTarget {
  name: string;
  /** Without its password. */
  uri: string;
  /** A transaction pooler: no named prepared statements. */
  txnPooling: boolean;
}

/** What every point shares, as the user asked for it (a point's own result file has its complete plan). */
export interface SweepRunOptions {
  knobs: Knobs;
  workers: number | null;
  durationMs: number | null;
  iterations: number | null;
  /** Absent in indexes from before there was a choice: shared. */
  iterationsSplit?: IterationsSplit;
  rampMs: number;
  rate: number | null;
  arrival: Arrival;
  queryMode: QueryMode;
  driver: Driver;
  connectPerTxn: boolean;
}

export interface SweepPlan {
  workload: string;
  /** Client counts, ascending. */
  conns: number[];
  /** PgBouncer default_pool_size values for the pooled targets (local stack only); null: left as it is. */
  poolSizes: number[] | null;
  /** PgBouncer processes per pooler node for the pooled targets (local stack only); absent: left as it is. */
  pgbouncerProcs?: number[];
  repeat: number;
  targets: SweepTarget[];
  run: SweepRunOptions;
  /** Re-initialise the workload's tables before every point. */
  reinit: boolean;
  pauseMs: number;
}

export interface SweepPoint {
  target: string;
  conns: number;
  poolSize: number | null;
  /** The stack's PgBouncer processes per node at this point; absent when the sweep did not vary them. */
  procs?: number;
  /** 1-based. */
  repeat: number;
  /** The point's result file, relative to the index's directory; null when the run failed to start. */
  file: string | null;
  /** The run was cut short (Ctrl-C): `--resume` runs it again. */
  partial: boolean;
  exitCode: number;
  /** Why the point does not count: its run failed to start (no client could connect), or failed on its own. */
  error?: string;
}

export interface SweepIndex {
  schema: typeof SWEEP_SCHEMA;
  version: typeof SWEEP_VERSION;
  tool: { name: "dcpbench"; version: string };
  workload: string;
  startedAt: string;
  updatedAt: string;
  /** Every planned point has a finished (not partial) run. */
  complete: boolean;
  plan: SweepPlan;
  /** In the order they ran. */
  points: SweepPoint[];
}
