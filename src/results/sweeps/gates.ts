import { UsageError } from "../../errors.js";
import type { Cmp } from "../../schema/plan.js";
import { holds } from "../compare/thresholds.js";
import { SWEEP_METRIC_NAMES, type SweepMetric, type SweepSeries } from "./summary.js";

/**
 * A sweep gate for CI, crossed when it holds: `pooled.throughput@512<direct` (pooled's median below direct's at
 * 512 clients), `pooled.p99@512>direct+10%`, `direct.errors@1024>0`. Medians over the point's repeats.
 */
export interface SweepGate {
  expr: string;
  series: string;
  metric: SweepMetric;
  conns: number;
  cmp: Cmp;
  rhs: { series: string; pct: number } | { value: number };
}

const GATE =
  /^\s*([A-Za-z][\w-]*(?::\d+)?(?::x\d+)?)\.(\w+)@(\d+)\s*(<=|>=|<|>)\s*(?:([A-Za-z][\w-]*(?::\d+)?(?::x\d+)?)\s*(?:([+-]\d+(?:\.\d+)?)%)?|(-?\d+(?:\.\d+)?))\s*$/;

/** Parses a gate and checks its names against the sweep's series and client counts (exit 2 before running). */
export function parseSweepGate(expr: string, seriesKeys: string[], conns: number[]): SweepGate {
  const bad = (why: string) =>
    new UsageError(
      `--fail-if '${expr}': ${why} (examples: 'pooled.throughput@512<direct', 'pooled.p99@512>direct+10%')`,
    );
  const m = GATE.exec(expr);
  if (!m) throw bad("expected SERIES.METRIC@CLIENTS <|> SERIES[+N%] or a number");
  const [, series, metric, at, cmp, other, pct, value] = m;
  if (!SWEEP_METRIC_NAMES.includes(metric as SweepMetric))
    throw bad(`unknown metric '${metric}' (${SWEEP_METRIC_NAMES.join(", ")})`);
  for (const s of [series, other].filter(Boolean))
    if (!seriesKeys.includes(s)) throw bad(`no series '${s}' in this sweep (${seriesKeys.join(", ")})`);
  if (!conns.includes(Number(at))) throw bad(`the sweep has no point at ${at} clients (${conns.join(", ")})`);
  return {
    expr: expr.trim(),
    series,
    metric: metric as SweepMetric,
    conns: Number(at),
    cmp: cmp as Cmp,
    rhs: other ? { series: other, pct: Number(pct ?? 0) } : { value: Number(value) },
  };
}

const valueAt = (series: SweepSeries[], key: string, conns: number, metric: SweepMetric) =>
  series.find((s) => s.key === key)?.points.find((p) => p.conns === conns)?.values[metric]?.median;

/** The gates that hold (crossed), each with the numbers; a point that was not measured fails too. */
export function evaluateSweepGates(
  gates: SweepGate[],
  series: SweepSeries[],
): Array<{ gate: string; message: string }> {
  const failures: Array<{ gate: string; message: string }> = [];
  for (const g of gates) {
    const left = valueAt(series, g.series, g.conns, g.metric);
    const right =
      "value" in g.rhs
        ? g.rhs.value
        : (valueAt(series, g.rhs.series, g.conns, g.metric) ?? NaN) * (1 + g.rhs.pct / 100);
    if (left === undefined || !Number.isFinite(right)) {
      failures.push({ gate: g.expr, message: `not measured at ${g.conns} clients` });
      continue;
    }
    if (holds(left, g.cmp, right))
      failures.push({
        gate: g.expr,
        message: `${g.series} ${g.metric} ${+left.toFixed(4)} ${g.cmp} ${+right.toFixed(4)}`,
      });
  }
  return failures;
}
