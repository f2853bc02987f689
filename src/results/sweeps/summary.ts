import { CONNECT, CYCLE, LAG } from "../../schema/measures.js";
import type { ResultFile } from "../../schema/result.js";
import { FIGURES, SWEEP_FIGURES, type Figure, type SweepFigure } from "../figures.js";
import { timeSplit } from "../time-split.js";
import type { SweepPlan, SweepTarget } from "../../schema/sweep.js";
import type { LoadedPoint } from "./index-file.js";

/** A sweep's figures are the catalogue's (results/figures.ts): the names its gates and charts use. */
export type SweepMetric = SweepFigure;
export const SWEEP_METRIC_NAMES: readonly SweepMetric[] = SWEEP_FIGURES;

/** A value over a point's repeats. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

export interface SeriesPoint {
  conns: number;
  runs: number;
  values: Partial<Record<SweepMetric, Spread>>;
  /** Median p50 per workload op (ms): the hop, op by op. */
  opP50: Record<string, number>;
  /** Where the mean cycle's time went (median over the runs, ms): see results/time-split.ts. */
  split?: { poolerWaitMs: number | null; serverMs: number | null; restMs: number | null };
  /** Runs of this point in which a PgBouncer used most of its one core, with the busiest's CPU. */
  poolerBound?: { runs: number; member: string; cpuPct: number };
}

/** One line of the curves: a target, or a pooled target at one pool size (and PgBouncer process count). */
export interface SweepSeries {
  key: string;
  name: string;
  target: string;
  poolSize: number | null;
  procs?: number;
  txnPooling: boolean;
  points: SeriesPoint[];
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function spreadOf(values: number[]): Spread | undefined {
  if (values.length === 0) return undefined;
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

/** A line's name in gates: `pooled`, `pooled:64` (pool size), `pooled:x2` (PgBouncer processes), `pooled:64:x2`. */
export const seriesKey = (target: string, poolSize: number | null, procs?: number) =>
  `${target}${poolSize === null ? "" : `:${poolSize}`}${procs === undefined ? "" : `:x${procs}`}`;

function seriesPoint(conns: number, results: ResultFile[]): SeriesPoint {
  const values: SeriesPoint["values"] = {};
  for (const name of SWEEP_METRIC_NAMES) {
    const figure: Figure = FIGURES[name];
    const spread = spreadOf(
      results
        .map((r) => figure.get(r))
        .filter((v): v is number => typeof v === "number" && Number.isFinite(v)),
    );
    if (spread) values[name] = spread;
  }
  const ops = new Set(results.flatMap((r) => Object.keys(r.summary)));
  const opP50: Record<string, number> = {};
  for (const op of ops) {
    if ([CYCLE, CONNECT, LAG].includes(op)) continue;
    const p50s = results
      .map((r) => r.summary[op])
      .filter((o) => o && o.count > 0)
      .map((o) => o.p50);
    if (p50s.length) opP50[op] = median(p50s);
  }
  const splits = results.map(timeSplit).filter((t) => t !== undefined);
  const part = (k: "poolerWaitMs" | "serverMs" | "restMs") => {
    const v = splits.map((t) => t[k]).filter((x): x is number => x !== null);
    return v.length ? median(v) : null;
  };
  const split = splits.length
    ? { poolerWaitMs: part("poolerWaitMs"), serverMs: part("serverMs"), restMs: part("restMs") }
    : undefined;
  const bound = results.filter((r) => r.serverSide?.poolerBound?.length);
  const busiest = bound
    .flatMap((r) => r.serverSide!.poolerBound!)
    .reduce<{ member: string; cpuPct: number } | undefined>(
      (a, b) => (!a || b.cpuPct > a.cpuPct ? b : a),
      undefined,
    );
  return {
    conns,
    runs: results.length,
    values,
    opP50,
    ...(split ? { split } : {}),
    ...(busiest ? { poolerBound: { runs: bound.length, ...busiest } } : {}),
  };
}

/** One line of a sweep: a target, or a pooled target at one of the sweep's pool sizes. */
export interface SeriesSpec {
  target: SweepTarget;
  poolSize: number | null;
  procs?: number;
  key: string;
  name: string;
}

/**
 * The sweep's lines, in its targets' order: each pooled target once per pool size and per PgBouncer process
 * count when the sweep varies them.
 */
export function seriesOf(plan: Pick<SweepPlan, "targets" | "poolSizes" | "pgbouncerProcs">): SeriesSpec[] {
  return plan.targets.flatMap((target) => {
    const pools = target.txnPooling && plan.poolSizes ? plan.poolSizes : [null];
    const procsList = target.txnPooling && plan.pgbouncerProcs ? plan.pgbouncerProcs : [undefined];
    return pools.flatMap((poolSize) =>
      procsList.map((procs) => {
        const what = [
          ...(poolSize === null ? [] : [`pool ${poolSize}`]),
          ...(procs === undefined ? [] : [`${procs} PgBouncer process${procs === 1 ? "" : "es"}`]),
        ];
        return {
          target,
          poolSize,
          ...(procs !== undefined ? { procs } : {}),
          key: seriesKey(target.name, poolSize, procs),
          name: what.length ? `${target.name} (${what.join(", ")})` : target.name,
        };
      }),
    );
  });
}

/** The sweep's curves: per target (and pool size), per client count, the spread over the repeats. */
export function sweepSeries(plan: SweepPlan, loaded: LoadedPoint[]): SweepSeries[] {
  return seriesOf(plan).map(({ target: t, poolSize, procs, key, name }) => ({
    key,
    name,
    target: t.name,
    poolSize,
    ...(procs !== undefined ? { procs } : {}),
    txnPooling: t.txnPooling,
    points: plan.conns
      .map((conns) => {
        const runs = loaded.filter(
          (l) =>
            l.point.target === t.name &&
            l.point.conns === conns &&
            l.point.poolSize === poolSize &&
            l.point.procs === procs,
        );
        return runs.length
          ? seriesPoint(
              conns,
              runs.map((l) => l.result),
            )
          : undefined;
      })
      .filter((p): p is SeriesPoint => p !== undefined),
  }));
}
