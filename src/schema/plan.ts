/**
 * The plan as a result file saves it. Part of the result-file contract: this folder imports nothing of ours,
 * so every layer may use its types.
 */

export type Arrival = "uniform" | "poisson";
/** psycopg: as psycopg 3 by default; extended, each statement prepared after 5 executions (never when pooled). */
export type QueryMode = "simple" | "extended" | "prepared" | "psycopg";
export type Driver = "lean" | "pg";
/**
 * How a worker's --iterations are shared by its clients: `shared`, one budget that whichever client is free takes
 * from; `even`, an equal share per client, the run ending when the slowest finishes (the seed's dbworkload -i).
 */
export type IterationsSplit = "shared" | "even";
export type KnobValue = number | string | boolean;
export type Knobs = Record<string, KnobValue>;

export type Cmp = "<" | "<=" | ">" | ">=";

/** A run threshold, k6-style: what must hold at the end of the run, e.g. `process.p99<2s`, `errors.rate<0.01`. */
export interface Threshold {
  expr: string;
  op: string;
  metric: string;
  cmp: Cmp;
  value: number;
}

/** The validated plan, as printed and saved: its URI has no password. */
export interface SavedPlan {
  workload: string;
  /** Built-in name or absolute path, as workers load it. */
  workloadRef: string;
  knobs: Knobs;
  /** The target, password removed. */
  uri: string;
  conns: number;
  workers: number;
  durationMs?: number;
  /** Cycles per worker. */
  iterations?: number;
  /** With iterations; absent in files from before there was a choice: shared. */
  iterationsSplit?: IterationsSplit;
  rampMs: number;
  /**
   * After the ramp, at full load, before the measured window: left out of the summary as the ramp is (JIT,
   * connections and caches warm). Absent in files from before there was one: 0.
   */
  warmupMs?: number;
  /**
   * The warm-up ends at steady state (the server's or pooler's connections no longer growing, the cycle rate
   * stable), at least `warmupMs` and at most `maxMs` after the ramp. Absent: `warmupMs` is a fixed warm-up.
   */
  warmupAuto?: { maxMs: number };
  /**
   * After the window's end, how long its last cycles may take to finish (the load goes on meanwhile); those
   * still running then are cut off. Absent in files from before: 1.5 s.
   */
  drainMs?: number;
  /** Open loop: total intended cycles per second across workers. */
  rate?: number;
  arrival: Arrival;
  /** Workers pinned to these CPUs in turn (worker i on pin[i % length]); absent: not pinned. */
  pin?: number[];
  txnPooling: boolean;
  queryMode: QueryMode;
  connectPerTxn: boolean;
  /**
   * --idle-conns: connections held through the same target beside the clients (this shard's share), never
   * timed; --idle-every: each sent `SELECT 1` that often. Absent: none.
   */
  idleConns?: number;
  idleEveryMs?: number;
  /** --wait-events: statements carried their op's name, and the server's sessions were sampled by op. */
  waitEvents?: boolean;
  /**
   * How the benchmark clients sent their queries: `lean` straight on the socket of a connection pg opened,
   * `pg` through pg's Client.query (files from before there was a choice are read as `pg`, which they used).
   */
  driver: Driver;
  label: string;
  outDir: string;
  /** Timeline interval; progress lines are printed at it unless progress is off. */
  intervalMs: number;
  progress: boolean;
  appName: string;
  connectTimeoutMs: number;
  maxErrors?: number;
  /** k6-style conditions checked at the end (exit 3 when one does not hold). */
  thresholds: Threshold[];
  /**
   * --shard I/N: this run is shard `index` of `count`; `conns` and `rate` above are its share, these the whole
   * plan's. Its clients are `firstClientId` … `firstClientId + conns - 1` of the whole.
   */
  shard?: ShardSpec;
  /** --start-at: when the measured window starts (RFC 3339, UTC), the same for every shard of a plan. */
  startAt?: string;
}

export interface ShardSpec {
  index: number;
  count: number;
  conns: number;
  rate?: number;
  firstClientId: number;
}
