import { readFileSync } from "node:fs";
import type { ServerInfo } from "../db/connect.js";
import type { CountedSample, OpSummary, TimelineEntry } from "../metrics/aggregate.js";
import type { SavedPlan } from "../plan.js";
import type { FaultRecord } from "../faults/scheduler.js";
import type { Outage } from "../metrics/snapshot.js";
import type { SystemStall } from "../metrics/stalls.js";
import type { ObservedSummary } from "../observe/observer.js";
import type { FaultAvailability } from "./availability.js";
import type { ThresholdOutcome } from "./thresholds.js";
import { UsageError } from "../errors.js";

export const RESULT_SCHEMA = "dcpbench.result";
export const RESULT_VERSION = 1;

/**
 * The result file: the one contract between `run` and everything that reads results.
 * Latencies in ms; histograms are HdrHistogram compressed base64 of µs values (exact to merge).
 * A new field may be added within a version; a changed or removed one bumps RESULT_VERSION.
 */
export interface ResultFile {
  schema: typeof RESULT_SCHEMA;
  version: typeof RESULT_VERSION;
  tool: { name: "dcpbench"; version: string };
  label: string;
  workload: string;
  /** The validated plan; its URI has no password. */
  plan: SavedPlan;
  server: ServerInfo;
  startedAt: string;
  endedAt: string;
  /** Seconds of the measured window (the ramp excluded): the denominator of every rate. */
  elapsedSec: number;
  /** True when the run was cut short: a signal before its planned end, a dead worker, --max-errors. */
  partial: boolean;
  stopReason: string;
  exitCode: number;
  clients: { planned: number; connected: number; failedToConnect: number };
  /** Per op, plus "__cycle__" (the whole cycle) and "__connect__" (connection set-up). */
  summary: Record<string, OpSummary>;
  counters: {
    reconnects: number;
    /** Open loop: intended starts that came due but never began (the clients could not keep up). */
    missed: number;
    /** Cycles still running at the end, after the grace time (not recorded). */
    abandoned: number;
  };
  errorSamples: CountedSample[];
  /**
   * Server side, when sampled: per series (db_sessions, db_active, run_sessions, pgb_cl_waiting, …) its min,
   * mean and max over the run, and PgBouncer's wait share. Each timeline entry has the samples in `observed`.
   */
  observed?: ObservedSummary;
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
  resources: {
    runner: { cpuUserSec: number; cpuSystemSec: number; maxRssMb: number };
    workers: Array<{
      index: number;
      clients: number;
      cpuUserSec: number;
      cpuSystemSec: number;
      maxRssMb: number;
      exitCode: number | null;
      signal: string | null;
      died: boolean;
    }>;
    /** CPU seconds of runner + workers over the run. */
    cpuSec: number;
    /** Sum of each process's peak RSS (an upper bound of the peak of the whole). */
    peakRssMb: number;
  };
}

/** Reads and checks a result file; a corrupt, foreign or wrong-version file is one clear line (exit 2). */
export function readResult(path: string): ResultFile {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(
      e.code === "ENOENT"
        ? `result file not found: ${path}`
        : `${path} is not a readable result file: ${e.message}`,
    );
  }
  const r = data as Partial<ResultFile>;
  if (r?.schema !== RESULT_SCHEMA) throw new UsageError(`${path} is not a dcpbench result file`);
  if (r.version !== RESULT_VERSION) {
    throw new UsageError(
      `${path} has result version ${r.version}; this dcpbench reads version ${RESULT_VERSION}`,
    );
  }
  if (!r.summary || !Array.isArray(r.timeline) || !r.plan)
    throw new UsageError(`${path} is missing parts of a result`);
  return r as ResultFile;
}
