import { LATENCY_METRICS } from "../../options/threshold.js";
import { intervalErrors, sumErrors } from "../../metrics/aggregate.js";
import { CYCLE, type OpSummary } from "../../schema/measures.js";
import type { ThresholdOutcome } from "../../schema/events.js";
import type { Cmp, Threshold } from "../../schema/plan.js";

export const holds = (a: number, cmp: Cmp, b: number): boolean =>
  cmp === "<" ? a < b : cmp === "<=" ? a <= b : cmp === ">" ? a > b : a >= b;

function measure(
  t: Threshold,
  summary: Record<string, OpSummary>,
  generator: { starved: boolean } | undefined,
): number | null {
  if (t.op === "generator") return generator ? Number(generator.starved) : null;
  if (t.op === "errors") {
    const errors = intervalErrors(
      Object.fromEntries(Object.entries(summary).map(([name, o]) => [name, { errors: sumErrors(o.errors) }])),
    );
    if (t.metric === "count") return errors;
    const cycle = summary[CYCLE];
    const failed = cycle ? sumErrors(cycle.errors) : 0;
    const total = (cycle?.count ?? 0) + failed;
    return total > 0 ? failed / total : 0;
  }
  const o = summary[t.op];
  if (!o) return null;
  if (t.metric === "throughput" || t.metric === "rate") return o.rate;
  if (t.metric === "errors") return sumErrors(o.errors);
  return o[t.metric as keyof OpSummary] as number;
}

export function evaluateThresholds(
  thresholds: Threshold[],
  result: { summary: Record<string, OpSummary>; generator?: { starved: boolean } },
): ThresholdOutcome[] {
  return thresholds.map((t) => {
    const actual = measure(t, result.summary, result.generator);
    const unit = t.op !== "errors" && t.op !== "generator" && LATENCY_METRICS.has(t.metric) ? "ms" : "";
    return { expr: t.expr, ok: actual !== null && holds(actual, t.cmp, t.value), actual, unit };
  });
}
