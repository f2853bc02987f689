/**
 * `dcpbench compare --format json`: what a CI job reads after a comparison. JSON has no undefined and no Infinity,
 * so a value a run does not have, and a change that has no percentage (the first run's own, or one from 0), are
 * null; the values beside a null change say which. Part of the result-file contract (imports nothing of ours).
 */

export const COMPARE_SCHEMA = "dcpbench.compare";
export const COMPARE_VERSION = 1;

/** One compared run, as the comparison's header describes it. */
export interface CompareRun {
  file: string;
  label: string;
  workload: string;
  /** "direct" or "pooled". */
  mode: string;
  conns: number;
  workers: number;
  queryMode: string;
  /** "closed", or "open N/s". */
  pacing: string;
  elapsedSec: number;
  partial: boolean;
  /** The load generator bounded this run (the reasons); absent when it did not or the file predates the verdict. */
  generatorStarved?: string[];
  /** This run opened server connections during its window (how many): it was measured cold. */
  measuredCold?: string;
  /** A PgBouncer of this run used most of its one core: the pooler set the pace (which, how much). */
  poolerBound?: string;
  /** --idle-conns: the connections it held beside its clients (connected of planned, queries sent). */
  idle?: string;
}

/** A value per run (null: that run has none) and each run's change against the first, in %. */
export interface CompareValues {
  values: Array<number | null>;
  /** null for the first run, for a missing value and for a change from 0. */
  changes: Array<number | null>;
}

export interface CompareMetricRow extends CompareValues {
  op: string;
  /** throughput (ops/s), mean, p50, p90, p95, p99, max (ms), errors, retries. */
  metric: string;
  lowerIsBetter: boolean;
}

/** A figure of the observed server (sessions, pool waits), per run; no change is computed. */
export interface CompareServerRow {
  name: string;
  values: Array<number | null>;
  unit: string;
}

/** What the database and the poolers paid, per run. */
export interface CompareServerSideRow extends CompareValues {
  name: string;
  /** As `--fail-if server.KEY>+20%` names it. */
  key: string;
  unit: string;
  /** null: neither direction is better in itself. */
  lowerIsBetter: boolean | null;
}

export interface CompareFile {
  schema: typeof COMPARE_SCHEMA;
  version: typeof COMPARE_VERSION;
  runs: CompareRun[];
  rows: CompareMetricRow[];
  server: CompareServerRow[];
  serverSide: CompareServerSideRow[];
  /**
   * Runs made with --wait-events: per op, its sampled session time ("session-s") and the largest events' shares
   * of it (%), per run. Absent when no run has them.
   */
  opWaits?: Array<{ op: string; what: string; values: Array<number | null> }>;
  warnings: string[];
  /** The --fail-if expressions, as given. */
  gates: string[];
  /** The gates crossed: a non-empty list is exit code 3. */
  failures: Array<{ gate: string; message: string }>;
}
