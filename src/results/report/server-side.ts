import type { ResultFile } from "../../schema/result.js";
import { escapeHtml } from "./escape.js";
import { FIGURES, type Figure, type FigureKey } from "../figures.js";

type Point = [t: number, v: number];

/** One cell of the side-by-side table: a run's figure over the window, and its series when there is one. */
interface Cell {
  value: number | null;
  points: Point[];
}

interface Row {
  name: string;
  unit: string;
  /** What the value is: the run's mean, its peak, or a figure of the whole window. */
  kind: "mean" | "peak" | "run";
  cells: Array<Cell | null>;
}

export interface ServerSideReport {
  rows: Row[];
  statements: Array<{ run: number; query: string; calls: number; meanMs: number; totalMs: number }>;
}

const series = (
  r: ResultFile,
  pick: (i: NonNullable<ResultFile["serverSide"]>["intervals"][number]) => number | null,
) =>
  (r.serverSide?.intervals ?? []).flatMap((i): Point[] => {
    const v = pick(i);
    return v === null ? [] : [[i.t, v]];
  });

const observed = (r: ResultFile, key: string) =>
  r.timeline.flatMap((e): Point[] =>
    e.observed?.[key] !== undefined && !e.ramp ? [[e.t, e.observed[key]]] : [],
  );

const mean = (points: Point[]) =>
  points.length ? points.reduce((n, p) => n + p[1], 0) / points.length : null;

/**
 * The seed's side-by-side table of database metrics: one row per figure, one column per run, each cell the
 * run's figure with its course over the run. Undefined when no run has server-side figures.
 */
export function serverSideReport(results: ResultFile[]): ServerSideReport | undefined {
  if (!results.some((r) => r.serverSide || r.observed)) return undefined;
  const rows: Row[] = [
    figureRow("cpuPct", "mean", results, (r) => series(r, (i) => i.cpuPct)),
    figureRow("cpuPerTxnMs", "run", results),
    figureRow("memoryMb", "peak", results, (r) => series(r, (i) => i.memoryMb)),
    figureRow("statementMeanMs", "run", results),
    figureRow("poolerWaitPerCycleMs", "run", results),
    figureRow("serverPerCycleMs", "run", results),
    figureRow("restPerCycleMs", "run", results),
    figureRow("commitsPerSec", "mean", results, (r) => series(r, (i) => i.commitsPerSec)),
    figureRow("sessionsOpenedPerSec", "mean", results, (r) => series(r, (i) => i.sessionsOpenedPerSec)),
    row("WAL bytes/s", "B/s", "mean", results, (r) => {
      const points = series(r, (i) => i.walBytesPerSec);
      return { value: mean(points), points };
    }),
    figureRow("walBytesPerTxn", "run", results),
    figureRow("walSyncMeanMs", "run", results),
    ...(
      [
        ["active sessions", "db_active"],
        ["open sessions", "db_sessions"],
        ["transactions open", "db_xact_open"],
        ["lock waits", "db_lock_waiting"],
        ["LWLock waits", "db_lwlock_waiting"],
        ["IO waits", "db_io_waiting"],
      ] as const
    ).map(([name, key]) =>
      row(name, "", "mean", results, (r) => {
        const points = observed(r, key);
        return { value: mean(points), points };
      }),
    ),
    row("pooler CPU (all)", "%", "mean", results, (r) => {
      const points = series(r, (i) => {
        const v = Object.values(i.poolerCpuPct).filter((x): x is number => x !== null);
        return v.length ? v.reduce((a, b) => a + b, 0) : null;
      });
      return { value: mean(points), points };
    }),
  ].filter((r) => r.cells.some((c) => c !== null && (c.value !== null || c.points.length > 0)));
  const statements = results.flatMap((r, run) =>
    (r.serverSide?.topStatements ?? [])
      .slice(0, 5)
      .map((t) => ({ run, query: t.query, calls: t.calls, meanMs: t.meanMs, totalMs: t.totalMs })),
  );
  return { rows, statements };
}

/** A row of a catalogue figure: its name, unit and value as compare has them; its course over the run if any. */
function figureRow(
  key: FigureKey,
  kind: Row["kind"],
  results: ResultFile[],
  points: (r: ResultFile) => Point[] = () => [],
): Row {
  const f: Figure = FIGURES[key];
  return row(f.reportName ?? f.name, f.unit, kind, results, (r) => ({
    value: f.get(r) ?? null,
    points: points(r),
  }));
}

function row(
  name: string,
  unit: string,
  kind: Row["kind"],
  results: ResultFile[],
  cell: (r: ResultFile) => Cell,
): Row {
  return { name, unit, kind, cells: results.map((r) => (r.serverSide || r.observed ? cell(r) : null)) };
}

const fmt = (n: number) =>
  n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n >= 0.1 ? n.toFixed(2) : n.toFixed(4);

/** A sparkline: the series as an SVG polyline on the cell's own scale (its min and max are shown). */
function sparkline(points: Point[], color: string): string {
  if (points.length < 2) return "";
  const w = 160;
  const h = 36;
  const ts = points.map((p) => p[0]);
  const vs = points.map((p) => p[1]);
  const [t0, t1] = [Math.min(...ts), Math.max(...ts)];
  const [v0, v1] = [Math.min(...vs), Math.max(...vs)];
  const x = (t: number) => (t1 > t0 ? ((t - t0) / (t1 - t0)) * (w - 2) + 1 : w / 2);
  const y = (v: number) => (v1 > v0 ? h - 1 - ((v - v0) / (v1 - v0)) * (h - 2) : h / 2);
  const line = points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
  return (
    `<svg class="spark" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" ` +
    `aria-label="from ${fmt(v0)} to ${fmt(v1)}"><polyline fill="none" stroke="${color}" stroke-width="1.5" points="${line}"/></svg>` +
    `<div class="range">${fmt(v0)} – ${fmt(v1)}</div>`
  );
}

/** The section: the side-by-side table and each run's top statements by total execution time. */
export function serverSideHtml(
  report: ServerSideReport,
  runs: string[],
  color: (run: number) => string,
): string {
  const head = [
    "",
    ...runs.map(
      (name, i) => `<span class="swatch" style="background:${color(i)}"></span>${escapeHtml(name)}`,
    ),
  ];
  const body = report.rows.map((r) => {
    const cells = r.cells.map((c, i) => {
      if (!c || (c.value === null && c.points.length === 0)) return "<td>-</td>";
      const v = c.value === null ? "-" : `${fmt(c.value)}${r.unit ? ` ${r.unit}` : ""}`;
      const what = r.kind === "run" ? "" : ` <span class="kind">${r.kind}</span>`;
      return `<td class="cell"><div class="value">${escapeHtml(v)}${what}</div>${sparkline(c.points, color(i))}</td>`;
    });
    return `<tr><th class="name">${escapeHtml(r.name)}</th>${cells.join("")}</tr>`;
  });
  const side =
    `<table id="server-side"><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead>` +
    `<tbody>${body.join("\n")}</tbody></table>`;
  const statements = report.statements.length
    ? `<h3>Top statements by total execution time (pg_stat_statements)</h3><table id="top-statements"><thead><tr>` +
      `<th>run</th><th>statement</th><th class="num">calls</th><th class="num">mean (ms)</th><th class="num">total (ms)</th></tr></thead><tbody>` +
      report.statements
        .map(
          (s) =>
            `<tr><td class="name"><span class="swatch" style="background:${color(s.run)}"></span>${escapeHtml(runs[s.run])}</td>` +
            `<td class="words"><code>${escapeHtml(s.query)}</code></td><td class="num">${s.calls}</td>` +
            `<td class="num">${fmt(s.meanMs)}</td><td class="num">${fmt(s.totalMs)}</td></tr>`,
        )
        .join("\n") +
      "</tbody></table>"
    : "";
  return `<h2>What the database paid</h2>\n<div class="scroll">${side}</div>\n${statements}`;
}
