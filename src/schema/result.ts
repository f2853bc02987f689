/**
 * The result file: the one contract between `run` and everything that reads results. This folder holds every
 * type that is part of it and imports nothing of ours, so producers (runner, samplers, fault scheduler) and
 * readers (compare, report) both depend on it and not on each other.
 * Latencies in ms; histograms are HdrHistogram compressed base64 of µs values (exact to merge).
 * A new field may be added within a version; a changed or removed one bumps RESULT_VERSION.
 */
import type { FaultAvailability, FaultRecord, ObservedSummary, ThresholdOutcome } from "./events.js";
import type { Count, CountedSample, OpSummary, Outage, SystemStall, TimelineEntry } from "./measures.js";
import type { SavedPlan } from "./plan.js";
import type { ServerSide } from "./server-side.js";
import type { GeneratorVerdict, WindowInfo } from "./window.js";

export const RESULT_SCHEMA = "dcpbench.result";
export const RESULT_VERSION = 1;
/** What a label may be, typed or read from a file: it becomes part of file names. */
export const LABEL_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export type Dialect = "postgres" | "cockroach";

export interface ServerInfo {
  product: Dialect;
  version: string;
}

export interface ProcessResources {
  cpuUserSec: number;
  cpuSystemSec: number;
  maxRssMb: number;
}

export interface WorkerResources extends ProcessResources {
  index: number;
  clients: number;
  exitCode: number | null;
  signal: string | null;
  died: boolean;
}

export type StopReason = "duration" | "iterations" | "signal" | "max-errors" | "worker-died";

export interface ResultFile {
  schema: typeof RESULT_SCHEMA;
  version: typeof RESULT_VERSION;
  tool: { name: "dcpbench"; version: string };
  /**
   * Part of the result's file names: letters, digits, '.', '_' or '-' (LABEL_PATTERN).
   * @pattern ^[A-Za-z0-9._-]{1,64}$
   */
  label: string;
  /** @maxLength 200 */
  workload: string;
  /** The validated plan; its URI has no password. */
  plan: SavedPlan;
  server: ServerInfo;
  startedAt: string;
  endedAt: string;
  /** Seconds of the measured window (ramp, warm-up and drain excluded): the denominator of every rate. */
  elapsedSec: number;
  /** The measured window on the clock: what ended the warm-up, the connections at its edges, the drain. */
  window?: WindowInfo;
  /** Whether the load generator bounded the run (its CPU, frozen stretches, late intervals, start lag). */
  generator?: GeneratorVerdict;
  /** True when the run was cut short: a signal before its planned end, a dead worker, --max-errors. */
  partial: boolean;
  stopReason: StopReason;
  exitCode: number;
  clients: { planned: Count; connected: Count; failedToConnect: Count };
  /** --idle-conns: the connections held beside the clients; nothing they did is in `summary`. */
  idle?: IdleInfo;
  /** Per op, plus "__cycle__" (the whole cycle) and "__connect__" (connection set-up). */
  summary: Record<string, OpSummary>;
  counters: {
    reconnects: Count;
    /** Open loop: intended starts that came due but never began (the clients could not keep up). */
    missed: Count;
    /** Cycles still running at the end (not recorded): the window's are also `window.cutOff`. */
    abandoned: Count;
  };
  errorSamples: CountedSample[];
  /**
   * Server side, when sampled: per series (db_sessions, db_active, run_sessions, pgb_cl_waiting, …) its min,
   * mean and max over the run, and PgBouncer's wait share. Each timeline entry has the samples in `observed`.
   */
  observed?: ObservedSummary;
  /** What the database and the poolers paid: CPU, memory, statement time, commits, connections, WAL. */
  serverSide?: ServerSide;
  /** --fault: what was done to the stack, and when (seconds after the start). */
  faults: FaultRecord[];
  /** Per fault: first error, clients affected, outage window overall and worst client, ambiguous commits, stall. */
  availability: FaultAvailability[];
  /** Every client outage: last success before → first success after (null: never recovered). */
  outages: Outage[];
  /**
   * Every time no cycle succeeded anywhere for at least 0.2 s while cycles were waiting (from the first waiting
   * one to the first success after; `to` null: until the end of the measured window). Absent in files written
   * before stalls were recorded.
   */
  stalls?: SystemStall[];
  /** --threshold conditions and whether each held (exit 3 when one did not). */
  thresholds: ThresholdOutcome[];
  timeline: TimelineEntry[];
  resources: Resources;
  /** --shard / --start-at: the host it ran on, how late it started, its clock against the server's. */
  host?: HostInfo;
  /** A result made by `dcpbench merge`: its shards, each with what stays per host, and what was missing. */
  merge?: MergeInfo;
}

export interface IdleInfo {
  planned: Count;
  connected: Count;
  failedToConnect: Count;
  /** Open when the load ended. */
  heldAtEnd: Count;
  /** Seconds between each one's `SELECT 1` (--idle-every); null: they sent nothing. */
  everySec: number | null;
  queries: Count;
  errors: Count;
}

export interface Resources {
  runner: ProcessResources;
  workers: WorkerResources[];
  /** CPU seconds of runner + workers over the run. */
  cpuSec: number;
  /** Sum of each process's peak RSS (an upper bound of the peak of the whole). */
  peakRssMb: number;
}

export interface ClockOffset {
  /** The database server's clock minus this host's, ms (positive: the server is ahead). */
  offsetMs: number;
  /** The round trip the offset was read in (the shortest of a few): its uncertainty is half of it. */
  rttMs: number;
}

export interface HostInfo {
  name: string;
  /** How long after --start-at the load began (0: on time); the intervals stay on the plan's grid. */
  lateMs: number;
  /** Null when the server could not be asked. */
  clock: ClockOffset | null;
}

export interface MergedShard {
  index: number;
  file: string;
  host: string;
  partial: boolean;
  elapsedSec: number;
  lateMs: number;
  clock: ClockOffset | null;
  exitCode: number;
  resources: Resources;
  faults: FaultRecord[];
}

export interface MergeInfo {
  /** Of the plan's N. */
  count: number;
  shards: MergedShard[];
  /** Shard indexes of the plan that were not given. */
  missing: number[];
  /** Largest difference between two shards' clock offsets, ms (null: fewer than two measured). */
  clockSpreadMs: number | null;
}
