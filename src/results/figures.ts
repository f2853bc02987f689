import { sumErrors } from "../metrics/aggregate.js";
import { CYCLE } from "../schema/measures.js";
import type { ResultFile } from "../schema/result.js";
import { timeSplit } from "./time-split.js";

/**
 * The catalogue of figures read from a result file: each one's key, name, unit, which way is better, and how it
 * is read. `compare`, its `--fail-if server.KEY` gates, the sweep's table, charts and gates, and the report take
 * their figures from here: a new figure is its schema field, its producer and one entry below.
 */
export interface Figure {
  /** As compare and the report's rows name it. */
  name: string;
  unit: "" | "%" | "ms" | "MB" | "B" | "/s";
  /** true: higher is better; false: lower is; undefined: neither in itself (CPU % rises with the work done). */
  higherBetter: boolean | undefined;
  get(r: ResultFile): number | undefined;
  /** The report's row name, where it says more than `name` (the report shows the unit beside it). */
  reportName?: string;
  /** Where a sweep shows it: its column (terminal and HTML tables) and, if charted, the chart's title. */
  sweep?: { column: string; chart?: string; terminal?: boolean };
}

const ss = (r: ResultFile) => r.serverSide?.summary;
const orUndef = (v: number | null | undefined) => (v === null ? undefined : v);
const cycle = (r: ResultFile) => r.summary[CYCLE];

/** CPU % of the stack's poolers whose name starts with `prefix`, summed (PgBouncers; HAProxy). */
function poolerCpu(r: ResultFile, prefix: string): number | undefined {
  const list = r.serverSide?.poolers.filter((p) => p.member.startsWith(prefix) && p.cpuPct !== null) ?? [];
  return list.length ? list.reduce((n, p) => n + p.cpuPct!, 0) : undefined;
}

/** The poolers' CPU is part of what pooling costs: server and poolers per cycle (poolers only when measured). */
function withPoolers(r: ResultFile): number | undefined {
  const s = ss(r);
  if (!s || s.cpuPerTxnMs === null || !s.cpuSec) return undefined;
  if (r.serverSide!.poolers.some((p) => p.cpuSec === null)) return undefined;
  const poolers = r.serverSide!.poolers.reduce((n, p) => n + p.cpuSec!, 0);
  return +(s.cpuPerTxnMs * (1 + poolers / s.cpuSec)).toFixed(4);
}

export const FIGURES = {
  // What the clients saw (the cycle).
  throughput: {
    name: "cycles/s",
    unit: "/s",
    higherBetter: true,
    get: (r) => cycle(r)?.rate,
    sweep: { column: "cycles/s", chart: "Throughput (cycles/s)", terminal: true },
  },
  p50: {
    name: "p50",
    unit: "ms",
    higherBetter: false,
    get: (r) => cycle(r)?.p50,
    sweep: { column: "p50 ms", chart: "p50 latency (ms)", terminal: true },
  },
  p99: {
    name: "p99",
    unit: "ms",
    higherBetter: false,
    get: (r) => cycle(r)?.p99,
    sweep: { column: "p99 ms", chart: "p99 latency (ms)", terminal: true },
  },
  errors: {
    name: "errors",
    unit: "",
    higherBetter: false,
    get: (r) => (cycle(r) ? sumErrors(cycle(r)!.errors) : undefined),
    sweep: { column: "errors", terminal: true },
  },
  // What the observer sampled (pg_stat_activity, SHOW POOLS).
  sessions: {
    name: "server sessions (max)",
    unit: "",
    higherBetter: false,
    get: (r) => r.observed?.series.db_sessions?.max,
    sweep: { column: "server sessions (max)", terminal: true },
  },
  runSessions: {
    name: "this run's server sessions (max)",
    unit: "",
    higherBetter: false,
    get: (r) => r.observed?.series.run_sessions?.max,
  },
  activeSessions: {
    name: "active server sessions (mean)",
    unit: "",
    higherBetter: undefined,
    get: (r) => r.observed?.series.run_active?.mean,
  },
  lockWaitingMax: {
    name: "sessions waiting on locks (max)",
    unit: "",
    higherBetter: false,
    get: (r) => r.observed?.series.db_lock_waiting?.max,
  },
  poolerWaitingMax: {
    name: "clients waiting in PgBouncer (max)",
    unit: "",
    higherBetter: false,
    get: (r) => r.observed?.series.pgb_cl_waiting?.max,
  },
  poolerMaxWaitMs: {
    name: "PgBouncer longest wait (max)",
    unit: "ms",
    higherBetter: false,
    get: (r) => r.observed?.series.pgb_maxwait_ms?.max,
  },
  poolWaitPct: {
    name: "pool wait share of transaction time",
    unit: "%",
    higherBetter: false,
    get: (r) => (r.observed?.poolWait ? r.observed.poolWait.share * 100 : undefined),
  },
  waitShare: {
    name: "PgBouncer wait share",
    unit: "",
    higherBetter: false,
    get: (r) => r.observed?.poolWait?.share,
    sweep: { column: "PgBouncer wait share", chart: "PgBouncer wait share" },
  },
  // What the database and the poolers paid (serverSide).
  cpuPerTxnMs: {
    name: "server CPU per transaction",
    unit: "ms",
    higherBetter: false,
    get: (r) => orUndef(ss(r)?.cpuPerTxnMs),
    sweep: { column: "server CPU/txn ms", chart: "Server CPU per transaction (ms)", terminal: true },
  },
  totalCpuPerTxnMs: {
    name: "server + pooler CPU per transaction",
    unit: "ms",
    higherBetter: false,
    get: withPoolers,
  },
  cpuPct: {
    name: "server CPU %",
    reportName: "server CPU",
    unit: "%",
    higherBetter: undefined,
    get: (r) => orUndef(ss(r)?.cpuPct),
  },
  memoryMb: {
    name: "server memory",
    reportName: "server memory (PSS)",
    unit: "MB",
    higherBetter: false,
    get: (r) => orUndef(ss(r)?.memoryMb),
    sweep: { column: "server memory MB", chart: "Server memory, peak PSS (MB)" },
  },
  statementMeanMs: {
    name: "statement time (mean)",
    unit: "ms",
    higherBetter: false,
    get: (r) => orUndef(ss(r)?.statementMeanMs),
  },
  commitsPerSec: {
    name: "commits/s",
    unit: "/s",
    higherBetter: true,
    get: (r) => orUndef(ss(r)?.commitsPerSec),
  },
  sessionsOpenedPerSec: {
    name: "connections opened/s",
    unit: "/s",
    higherBetter: false,
    get: (r) => orUndef(ss(r)?.sessionsOpenedPerSec),
  },
  lockWaits: {
    name: "lock waits",
    unit: "",
    higherBetter: false,
    get: (r) => r.observed?.series.db_lock_waiting?.mean,
  },
  lwlockWaits: {
    name: "LWLock waits",
    unit: "",
    higherBetter: false,
    get: (r) => r.observed?.series.db_lwlock_waiting?.mean,
  },
  xactOpen: {
    name: "transactions open",
    unit: "",
    higherBetter: false,
    get: (r) => r.observed?.series.db_xact_open?.mean,
  },
  // Where a cycle's mean time went (results/time-split.ts).
  poolerWaitPerCycleMs: {
    name: "cycle time queued in PgBouncer",
    unit: "ms",
    higherBetter: false,
    get: (r) => orUndef(timeSplit(r)?.poolerWaitMs),
  },
  serverPerCycleMs: {
    name: "cycle time executing in the server",
    unit: "ms",
    higherBetter: false,
    get: (r) => orUndef(timeSplit(r)?.serverMs),
  },
  restPerCycleMs: {
    name: "cycle time elsewhere (hops, client)",
    unit: "ms",
    higherBetter: false,
    get: (r) => orUndef(timeSplit(r)?.restMs),
  },
  walBytesPerTxn: {
    name: "WAL bytes per transaction",
    unit: "B",
    higherBetter: false,
    get: (r) => orUndef(ss(r)?.walBytesPerTxn),
  },
  walSyncMeanMs: {
    name: "WAL sync (mean)",
    unit: "ms",
    higherBetter: false,
    get: (r) => orUndef(ss(r)?.walSyncMeanMs),
  },
  pgbouncerCpuPct: {
    name: "PgBouncer CPU %",
    unit: "%",
    higherBetter: false,
    get: (r) => poolerCpu(r, "pgbouncer"),
  },
  haproxyCpuPct: {
    name: "HAProxy CPU %",
    unit: "%",
    higherBetter: false,
    get: (r) => poolerCpu(r, "haproxy"),
  },
} satisfies Record<string, Figure>;

export type FigureKey = keyof typeof FIGURES;

type WithSweep = { [K in FigureKey]: (typeof FIGURES)[K] extends { sweep: object } ? K : never }[FigureKey];

/** The figures a sweep shows per point, in its tables' order; its gates name them (`pooled.p99@512<direct`). */
export const SWEEP_FIGURES: readonly WithSweep[] = [
  "throughput",
  "p50",
  "p99",
  "errors",
  "sessions",
  "cpuPerTxnMs",
  "memoryMb",
  "waitShare",
];
export type SweepFigure = WithSweep;

/** The server side's figures, as compare shows them and `--fail-if server.KEY` names them. */
export const SERVER_SIDE_FIGURES: readonly FigureKey[] = [
  "cpuPerTxnMs",
  "totalCpuPerTxnMs",
  "cpuPct",
  "memoryMb",
  "statementMeanMs",
  "poolerWaitPerCycleMs",
  "serverPerCycleMs",
  "restPerCycleMs",
  "commitsPerSec",
  "sessionsOpenedPerSec",
  "lockWaits",
  "lwlockWaits",
  "xactOpen",
  "walBytesPerTxn",
  "walSyncMeanMs",
  "pgbouncerCpuPct",
  "haproxyCpuPct",
];

/** What the observer saw, as compare lists it per run (no change computed). */
export const OBSERVED_FIGURES: readonly FigureKey[] = [
  "sessions",
  "runSessions",
  "activeSessions",
  "lockWaitingMax",
  "poolerWaitingMax",
  "poolerMaxWaitMs",
  "poolWaitPct",
];
