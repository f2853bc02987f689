import { UsageError } from "../errors.js";
import type { Cmp, Threshold } from "../schema/plan.js";

export const LATENCY_METRICS: ReadonlySet<string> = new Set([
  "mean",
  "min",
  "p50",
  "p90",
  "p95",
  "p99",
  "p999",
  "max",
]);
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, us: 0.001, µs: 0.001 };

/** Parses `--threshold` expressions; a malformed one is one line, exit 2, before anything runs. */
export function parseThreshold(expr: string): Threshold {
  const m = /^\s*(.+)\.(\w+)\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*(ms|s|us|µs)?\s*$/.exec(expr);
  const bad = (why: string) =>
    new UsageError(
      `--threshold '${expr}': ${why} (examples: 'process.p99<2s', 'errors.rate<0.01', '__cycle__.mean<500ms', 'generator.starved<1')`,
    );
  if (!m) throw bad("expected OP.METRIC<VALUE");
  const [, op, metric, cmp, num, unit] = m;
  let value = Number(num);
  if (op === "generator") {
    if (metric !== "starved" || unit)
      throw bad("the generator's one figure is starved (1 when it was): 'generator.starved<1'");
  } else if (op === "errors") {
    if (metric !== "rate" && metric !== "count") throw bad("errors has metrics rate and count");
    if (unit) throw bad("errors.rate and errors.count take a plain number");
  } else if (LATENCY_METRICS.has(metric)) {
    value *= UNIT_MS[unit ?? "ms"];
  } else if (metric === "rate" || metric === "throughput" || metric === "count" || metric === "errors") {
    if (unit) throw bad(`${metric} takes a plain number`);
  } else {
    throw bad(`unknown metric '${metric}' (mean, min, p50, p90, p95, p99, p999, max, rate, count, errors)`);
  }
  return { expr: expr.trim(), op, metric, cmp: cmp as Cmp, value };
}
