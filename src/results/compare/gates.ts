import { UsageError } from "../../errors.js";
import { change } from "./format.js";
import { isMetric, METRICS, type Comparison, type Metric } from "./compare.js";
import { holds } from "./thresholds.js";
import { SERVER_SIDE_KEYS } from "./server-side.js";
import type { Cmp } from "../../schema/plan.js";

/**
 * A regression gate for compare: `p99>+10%`, `throughput<-5%`, `process.p99>+10%`, or on what the server paid,
 * `server.cpuPerTxnMs>+20%` — crossed when it holds.
 */
export type Gate =
  | { expr: string; op?: string; metric: Metric; cmp: Cmp; pct: number; server?: undefined; flag?: undefined }
  | { expr: string; server: string; cmp: Cmp; pct: number; flag?: undefined }
  /**
   * Crossed when any run was: its load generator bounded it, it opened server connections in its window, or a
   * PgBouncer of it used most of its one core.
   */
  | { expr: string; flag: RunFlag; server?: undefined };

/** Gates on how a run was measured, not on a change between runs. */
const RUN_FLAGS = ["generator-starved", "measured-cold", "pooler-bound"] as const;
type RunFlag = (typeof RUN_FLAGS)[number];

export function parseGate(expr: string): Gate {
  const flag = RUN_FLAGS.find((f) => f === expr.trim());
  if (flag) return { expr: flag, flag };
  const m = /^\s*(?:(.+)\.)?(\w+)\s*(<=|>=|<|>)\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$/.exec(expr);
  const bad = (why: string) =>
    new UsageError(`--fail-if '${expr}': ${why} (examples: 'p99>+10%', 'throughput<-5%')`);
  if (!m) throw bad(`expected [OP.]METRIC>+N% or [OP.]METRIC<-N%, or ${RUN_FLAGS.join(" or ")}`);
  const [, op, metric, cmp, pct] = m;
  if (op === "server") {
    if (!SERVER_SIDE_KEYS.includes(metric))
      throw bad(`unknown server figure '${metric}' (${SERVER_SIDE_KEYS.join(", ")})`);
    return { expr: expr.trim(), server: metric, cmp: cmp as Cmp, pct: Number(pct) };
  }
  if (!isMetric(metric)) throw bad(`unknown metric '${metric}' (${METRICS.join(", ")}; or server.FIGURE)`);
  return { expr: expr.trim(), op, metric, cmp: cmp as Cmp, pct: Number(pct) };
}

export interface GateFailure {
  gate: string;
  message: string;
}

/** Every (op, run) whose change against the first run crosses a gate. */
export function evaluateGates(gates: Gate[], c: Comparison): GateFailure[] {
  const failures: GateFailure[] = [];
  for (const g of gates) {
    if (g.flag !== undefined) {
      failures.push(...flagGate(g.flag, c));
      continue;
    }
    if (g.server !== undefined) {
      failures.push(...serverGate(g, g.server, c));
      continue;
    }
    for (const row of c.rows) {
      if (row.metric !== g.metric || (g.op !== undefined && row.op !== g.op)) continue;
      row.changes.forEach((pct, i) => {
        if (pct === undefined || !holds(pct, g.cmp, g.pct)) return;
        failures.push({
          gate: g.expr,
          message: `${row.op} ${row.metric} ${change(row, pct)} (${c.runs[i].label} vs ${c.runs[0].label})`,
        });
      });
    }
    if (g.op !== undefined && !c.rows.some((r) => r.op === g.op)) {
      failures.push({ gate: g.expr, message: `no op '${g.op}' in these results` });
    }
  }
  return failures;
}

function flagGate(flag: RunFlag, c: Comparison): GateFailure[] {
  return c.runs.flatMap((r) => {
    const why =
      flag === "generator-starved"
        ? r.generatorStarved?.join("; ")
        : flag === "measured-cold"
          ? r.measuredCold
          : r.poolerBound;
    return why ? [{ gate: flag, message: `${r.label}: ${why}` }] : [];
  });
}

function serverGate(g: Extract<Gate, { server: string }>, key: string, c: Comparison): GateFailure[] {
  const row = c.serverSide.find((r) => r.key === key);
  if (!row) return [{ gate: g.expr, message: `no server-side figure '${key}' in these results` }];
  const out: GateFailure[] = [];
  row.values.forEach((v, i) => {
    if (i > 0 && v === undefined)
      out.push({ gate: g.expr, message: `${row.name}: not measured in ${c.runs[i].label}` });
  });
  row.changes.forEach((pct, i) => {
    if (pct === undefined || !holds(pct, g.cmp, g.pct)) return;
    const shown = pct === Infinity ? "+∞% (from 0)" : `${pct > 0 ? "+" : ""}${pct.toFixed(1)}%`;
    out.push({ gate: g.expr, message: `${row.name} ${shown} (${c.runs[i].label} vs ${c.runs[0].label})` });
  });
  return out;
}
