import { sumErrors } from "../../metrics/aggregate.js";
import { measuredCold, poolerBound, warmupText, windowNotes } from "../window-notes.js";
import { idleText, iterationsText, opOrder } from "../tables.js";
import { CONNECT, CYCLE, type OpSummary } from "../../schema/measures.js";
import type { CompareRun } from "../../schema/compare.js";
import type { ResultFile } from "../../schema/result.js";
import { changePct } from "./change.js";
import { FIGURES, OBSERVED_FIGURES, type Figure } from "../figures.js";
import { serverSideRows, type ServerSideRow } from "./server-side.js";
import { opWaitRows, type OpWaitRow } from "../op-waits.js";

/** What compare shows per op, in this order. Latencies in ms, throughput in ops/s. */
export const METRICS = [
  "throughput",
  "mean",
  "p50",
  "p90",
  "p95",
  "p99",
  "max",
  "errors",
  "retries",
] as const;
export type Metric = (typeof METRICS)[number];
const LOWER_IS_BETTER: Record<Metric, boolean> = {
  throughput: false,
  mean: true,
  p50: true,
  p90: true,
  p95: true,
  p99: true,
  max: true,
  errors: true,
  retries: true,
};

export function isMetric(name: string): name is Metric {
  return (METRICS as readonly string[]).includes(name);
}

export function metricValue(op: OpSummary, metric: Metric): number {
  switch (metric) {
    case "throughput":
      return op.rate;
    case "errors":
      return sumErrors(op.errors);
    case "retries":
      return op.retries;
    default:
      return op[metric];
  }
}

export type RunInfo = CompareRun;

export interface MetricRow {
  op: string;
  metric: Metric;
  /** One value per run (undefined when that run has no such op). */
  values: Array<number | undefined>;
  /** Change of each run against the first, in % (undefined for the first run). */
  changes: Array<number | undefined>;
  lowerIsBetter: boolean;
}

/** A server-side figure per run, when the runs were observed ("server sessions: 1024 → 64"). */
export interface ServerRow {
  name: string;
  values: Array<number | undefined>;
  unit: Figure["unit"];
}

export interface Comparison {
  runs: RunInfo[];
  rows: MetricRow[];
  server: ServerRow[];
  /** What the database and the poolers paid, per run (results with `serverSide`). */
  serverSide: ServerSideRow[];
  /** --wait-events: where each op's sessions were, per run (empty when no run sampled them). */
  opWaits: OpWaitRow[];
  warnings: string[];
}

function runInfo(file: string, r: ResultFile): RunInfo {
  const p = r.plan;
  return {
    file,
    label: r.label,
    workload: r.workload,
    mode: p.txnPooling ? "pooled" : "direct",
    conns: p.conns,
    workers: p.workers,
    queryMode: p.queryMode + (p.connectPerTxn ? ", connect-per-txn" : ""),
    pacing: p.rate !== undefined ? `open ${p.rate}/s` : "closed",
    elapsedSec: r.elapsedSec,
    partial: r.partial,
    ...(r.generator?.starved ? { generatorStarved: r.generator.reasons } : {}),
    ...(measuredCold(r) ? { measuredCold: measuredCold(r) } : {}),
    ...(poolerBound(r) ? { poolerBound: poolerBound(r) } : {}),
    ...(r.idle ? { idle: idleText(r.idle) } : {}),
  };
}

/**
 * Everything in a plan that changes the result besides the target itself (URI, label, transaction pooling):
 * a comparison of two runs should differ in the target only, and says so when it does not.
 */
const PLAN_FIELDS: Array<[string, (r: ResultFile) => string]> = [
  ["workload", (r) => r.workload],
  ["conns", (r) => String(r.plan.conns)],
  [
    "knobs",
    (r) =>
      Object.entries(r.plan.knobs)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ") || "(none)",
  ],
  ["workers", (r) => String(r.plan.workers)],
  ["query mode", (r) => r.plan.queryMode],
  ["driver", (r) => r.plan.driver],
  ["connect per transaction", (r) => String(r.plan.connectPerTxn)],
  ["idle connections", (r) => (r.idle ? idleText(r.idle) : "none")],
  ["pacing", (r) => (r.plan.rate !== undefined ? `open ${r.plan.rate}/s ${r.plan.arrival}` : "closed loop")],
  [
    "stop condition",
    (r) =>
      [
        r.plan.durationMs !== undefined ? `${r.plan.durationMs / 1000}s` : "",
        r.plan.iterations !== undefined ? iterationsText(r.plan.iterations, r.plan.iterationsSplit) : "",
      ]
        .filter(Boolean)
        .join(" or ") || "until stopped",
  ],
  ["ramp", (r) => `${r.plan.rampMs / 1000}s`],
  ["warm-up", (r) => (r.window?.warmup.endedBy === "steady" ? "auto (steady)" : warmupText(r))],
  ["server", (r) => `${r.server.product} ${r.server.version.split(" ")[1] ?? r.server.version}`],
];

function differences(results: ResultFile[]): string[] {
  const warnings: string[] = [];
  for (const [what, of] of PLAN_FIELDS) {
    const values = results.map(of);
    if (new Set(values).size > 1) warnings.push(`runs differ in ${what}: ${values.join(" vs ")}`);
  }
  for (const r of results) if (r.partial) warnings.push(`${r.label} is a partial result (${r.stopReason})`);
  for (const r of results) warnings.push(...windowNotes(r));
  return warnings;
}

/** Every op of every run (the first run's order first), each metric side by side, with the change vs the first. */
export function compareResults(files: string[], results: ResultFile[]): Comparison {
  const ops: string[] = [];
  for (const r of results)
    for (const op of opOrder(r.summary)) if (op !== CONNECT && !ops.includes(op)) ops.push(op);
  // The cycle last, as in the summary table.
  ops.sort((a, b) => Number(a === CYCLE) - Number(b === CYCLE));
  const rows: MetricRow[] = [];
  for (const op of ops) {
    for (const metric of METRICS) {
      const values = results.map((r) => (r.summary[op] ? metricValue(r.summary[op], metric) : undefined));
      rows.push({
        op,
        metric,
        values,
        changes: values.map((v, i) => (i === 0 ? undefined : changePct(values[0], v))),
        lowerIsBetter: LOWER_IS_BETTER[metric],
      });
    }
  }
  const server = OBSERVED_FIGURES.map((key) => FIGURES[key] as Figure)
    .map((f) => ({ name: f.name, unit: f.unit, values: results.map((r) => f.get(r)) }))
    .filter((row) => row.values.some((v) => v !== undefined));
  return {
    runs: files.map((f, i) => runInfo(f, results[i])),
    rows,
    server,
    serverSide: serverSideRows(results),
    opWaits: results.some((r) => r.serverSide?.opWaits)
      ? opWaitRows(results.map((r) => r.serverSide?.opWaits))
      : [],
    warnings: differences(results),
  };
}
