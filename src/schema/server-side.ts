/**
 * What the database (and the poolers in front of it) paid for a run: the result file's `serverSide`. Part of
 * the result-file contract; absent in files written before it existed. A figure that could not be measured is
 * null, and `missing` says why; never 0 in its place.
 */

export const SERVER_SIDE_VERSION = 1;

/** A PgBouncer process at or above this share of one core over the window bound the pooled side (one thread). */
export const POOLER_BOUND_PCT = 90;

export interface ServerSideSummary {
  /** CPU seconds (user + system) of the server's processes over the measured window (local servers only). */
  cpuSec: number | null;
  /** cpuSec as a percentage of one CPU over the window. */
  cpuPct: number | null;
  /** Server CPU per completed cycle, in ms. */
  cpuPerTxnMs: number | null;
  /** Peak estimated proportional set size (PSS) of the server's processes, in MB. */
  memoryMb: number | null;
  /** Bytes the server's live processes read from and wrote to storage over the window. */
  readMb: number | null;
  writeMb: number | null;
  /** pg_stat_statements: mean execution time of the run's statements (ms), and how many ran. */
  statementMeanMs: number | null;
  statementCalls: number | null;
  /** pg_stat_database for the run's database: transactions per second as the server counted them. */
  commitsPerSec: number | null;
  rollbacksPerSec: number | null;
  /** Connections (sessions) opened per second: the connection churn (PostgreSQL 14+). */
  sessionsOpenedPerSec: number | null;
  /** Share of block reads served from shared buffers. */
  cacheHitRatio: number | null;
  deadlocks: number | null;
  tempBytes: number | null;
  /** pg_stat_wal: WAL bytes per completed cycle, and the mean time of a WAL sync (ms). */
  walBytesPerTxn: number | null;
  walSyncMeanMs: number | null;
}

export interface PoolerCost {
  /** The stack member: pgbouncer-1, pgbouncer-2, haproxy. */
  member: string;
  /** Why a figure is null (e.g. the member restarted during the window); absent when none is. */
  note?: string;
  cpuSec: number | null;
  cpuPct: number | null;
  memoryMb: number | null;
}

export interface TopStatement {
  queryId: string;
  /** The normalized statement text, as pg_stat_statements keeps it (constants as $n). */
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
}

/** One sampling interval: rates over it (per second), levels at its end. Seconds since the run's start. */
export interface ServerSideInterval {
  t: number;
  cpuPct: number | null;
  memoryMb: number | null;
  commitsPerSec: number | null;
  rollbacksPerSec: number | null;
  sessionsOpenedPerSec: number | null;
  walBytesPerSec: number | null;
  poolerCpuPct: Record<string, number | null>;
}

export interface PoolerBound {
  member: string;
  /** % of one core over the window. */
  cpuPct: number;
}

/**
 * --wait-events (PostgreSQL): what each op's sessions were doing, from pg_stat_activity sampled every `sampleMs`
 * over the window. A count is (session, sample) pairs, so count / samples × seconds is session-seconds.
 */
export interface OpWaits {
  sampleMs: number;
  /** Samples taken over the window. */
  samples: number;
  /** From the window's start to its last sample. */
  seconds: number;
  /** Samples not taken because the one before was still running. */
  skipped: number;
  /**
   * Per op, by what its sessions were doing: `CPU` (active, no wait event), `Type:Event` (a wait event, e.g.
   * `Lock:transactionid`, `IO:WALSync`), `idle in transaction` (the client's time inside its transaction).
   */
  ops: Record<string, Record<string, number>>;
  /** Why the counts may be missing or short (a sample failed, no tagged statement was visible). */
  note?: string;
}

export interface ServerSide {
  version: typeof SERVER_SIDE_VERSION;
  dialect: "postgres" | "cockroach";
  /** Seconds between the first and the last reading: the denominator of every rate in the summary. */
  windowSec: number;
  summary: ServerSideSummary;
  poolers: PoolerCost[];
  /**
   * The PgBouncer processes that used at least POOLER_BOUND_PCT % of a core over the window: PgBouncer runs on
   * one thread, so there the pooler, not the database, set the pooled side's pace. Absent in older files.
   */
  poolerBound?: PoolerBound[];
  /** By total execution time, at most 10. */
  topStatements: TopStatement[];
  /** For each summary field that is null: why. */
  missing: Partial<Record<keyof ServerSideSummary, string>>;
  intervals: ServerSideInterval[];
  /** --wait-events: each op's sessions over the window. Absent without it. */
  opWaits?: OpWaits;
}
