import Table from "cli-table3";
import { crossovers, hopLine, hopOf } from "./crossover.js";
import { FIGURES, SWEEP_FIGURES, type Figure } from "../figures.js";
import type { Spread, SweepMetric, SweepSeries } from "./summary.js";

const fmt = (n: number) =>
  n === 0 ? "0" : Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);

/** The median, and the range over the repeats when there was more than one. */
export function spreadText(s: Spread | undefined, digits: (n: number) => string = fmt): string {
  if (!s) return "–";
  return s.n > 1 ? `${digits(s.median)} [${digits(s.min)}–${digits(s.max)}]` : digits(s.median);
}

/** The terminal's columns: the catalogue's sweep figures marked for it. */
const COLUMNS: Array<[SweepMetric, string]> = SWEEP_FIGURES.flatMap((m) => {
  const sweep: NonNullable<Figure["sweep"]> = FIGURES[m].sweep;
  return sweep.terminal ? [[m, sweep.column] as [SweepMetric, string]] : [];
});

/** One row per client count and target (and pool size): median [min–max] over the repeats (of `metrics`, or all). */
export function sweepTable(series: SweepSeries[], metrics?: SweepMetric[]): string {
  const columns = metrics ? COLUMNS.filter(([m]) => metrics.includes(m)) : COLUMNS;
  const conns = [...new Set(series.flatMap((s) => s.points.map((p) => p.conns)))].sort((a, b) => a - b);
  const table = new Table({
    head: ["clients", "target", "runs", ...columns.map(([, h]) => h)],
    style: { head: [], border: [], compact: true },
    colAligns: ["right", "left", "right", ...columns.map(() => "right" as const)],
  });
  for (const c of conns) {
    for (const s of series) {
      const p = s.points.find((q) => q.conns === c);
      if (!p) continue;
      table.push([c, s.name, p.runs, ...columns.map(([m]) => spreadText(p.values[m]))]);
    }
  }
  return table.toString();
}

/** The crossover lines, then the hop where the baseline wins somewhere. */
export function crossoverLines(series: SweepSeries[]): string[] {
  const list = crossovers(series);
  const lines = list.map((c) => `crossover, ${c.line}`);
  if (list.some((c) => c.single))
    lines.push(
      "(one run at some points: no range there to tell a difference from noise, so nothing is claimed; --repeat 3)",
    );
  // A curve its pooler bounded says more of PgBouncer's one thread than of the database behind it.
  for (const s of series)
    for (const p of s.points)
      if (p.poolerBound)
        lines.push(
          `pooler-bound: ${s.name} at ${p.conns} clients (${p.poolerBound.member} at ${Math.round(p.poolerBound.cpuPct)}% of a core in ${p.poolerBound.runs} of ${p.runs} run(s)): a crossover there is the pooler's ceiling, not the database's`,
        );
  for (const hop of hopOf(series)) {
    // Where the baseline wins (or, with single runs, where its throughput is higher), the hop says why.
    const baselineWins = list.some(
      (c) =>
        c.challenger === hop.challenger &&
        c.verdicts.some(
          (v) => v.verdict === "behind" || (c.single && c.metric === "throughput" && v.changePct < 0),
        ),
    );
    if (baselineWins) lines.push(hopLine(hop));
  }
  return lines;
}
