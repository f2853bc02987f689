import { UsageError } from "../errors.js";
import { intervalErrors, sumErrors, type OpSummary } from "../metrics/aggregate.js";
import { CYCLE } from "../metrics/snapshot.js";

export type Cmp = "<" | "<=" | ">" | ">=";
export const holds = (a: number, cmp: Cmp, b: number): boolean =>
  cmp === "<" ? a < b : cmp === "<=" ? a <= b : cmp === ">" ? a > b : a >= b;

const LATENCY = new Set(["mean", "min", "p50", "p90", "p95", "p99", "p999", "max"]);
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, us: 0.001, µs: 0.001 };

/** A run threshold, k6-style: what must hold at the end of the run, e.g. `process.p99<2s`, `errors.rate<0.01`. */
export interface Threshold {
  expr: string;
  op: string;
  metric: string;
  cmp: Cmp;
  value: number;
}

export interface ThresholdOutcome {
  expr: string;
  ok: boolean;
  /** The measured value (ms for latencies), or null when the op did not run. */
  actual: number | null;
  unit: "ms" | "";
}

/** Parses `--threshold` expressions; a malformed one is one line, exit 2, before anything runs. */
export function parseThreshold(expr: string): Threshold {
  const m = /^\s*(.+)\.(\w+)\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*(ms|s|us|µs)?\s*$/.exec(expr);
  const bad = (why: string) =>
    new UsageError(
      `--threshold '${expr}': ${why} (examples: 'process.p99<2s', 'errors.rate<0.01', '__cycle__.mean<500ms')`,
    );
  if (!m) throw bad("expected OP.METRIC<VALUE");
  const [, op, metric, cmp, num, unit] = m;
  let value = Number(num);
  if (op === "errors") {
    if (metric !== "rate" && metric !== "count") throw bad("errors has metrics rate and count");
    if (unit) throw bad("errors.rate and errors.count take a plain number");
  } else if (LATENCY.has(metric)) {
    value *= UNIT_MS[unit ?? "ms"];
  } else if (metric === "rate" || metric === "throughput" || metric === "count" || metric === "errors") {
    if (unit) throw bad(`${metric} takes a plain number`);
  } else {
    throw bad(`unknown metric '${metric}' (mean, min, p50, p90, p95, p99, p999, max, rate, count, errors)`);
  }
  return { expr: expr.trim(), op, metric, cmp: cmp as Cmp, value };
}

function measure(t: Threshold, summary: Record<string, OpSummary>): number | null {
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
  result: { summary: Record<string, OpSummary> },
): ThresholdOutcome[] {
  return thresholds.map((t) => {
    const actual = measure(t, result.summary);
    const unit = t.op !== "errors" && LATENCY.has(t.metric) ? "ms" : "";
    return { expr: t.expr, ok: actual !== null && holds(actual, t.cmp, t.value), actual, unit };
  });
}
