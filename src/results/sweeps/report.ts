import { formatDuration } from "../../options/units.js";
import type { SweepIndex } from "../../schema/sweep.js";
import { VERSION } from "../../version.js";
import { escapeHtml } from "../report/escape.js";
import { iterationsText } from "../tables.js";
import { PALETTE } from "../report/html.js";
import { crossovers, type Crossover } from "./crossover.js";
import { FIGURES, SWEEP_FIGURES, type Figure } from "../figures.js";
import type { SweepMetric, SweepSeries } from "./summary.js";
import { crossoverLines, spreadText } from "./table.js";

const CHARTS: Array<{ metric: SweepMetric; title: string }> = SWEEP_FIGURES.flatMap((metric) => {
  const sweep: NonNullable<Figure["sweep"]> = FIGURES[metric].sweep;
  return sweep.chart ? [{ metric, title: sweep.chart }] : [];
});

const W = 560;
const H = 300;
const M = { left: 64, right: 16, top: 16, bottom: 44 };
const color = (i: number) => PALETTE[i % PALETTE.length];

const num = (n: number) =>
  Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toPrecision(2);

/** The axis top: the next 1, 2, 2.5 or 5 × 10^k above the largest value, so that the ticks are round. */
function niceTop(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((t) => t >= v)!;
}

/** Client counts on a log scale (as pooler projects plot them), the metric on a linear one from 0. */
function scales(conns: number[], top: number) {
  const lo = Math.log(Math.min(...conns));
  const hi = Math.log(Math.max(...conns));
  const x = (c: number) =>
    hi === lo
      ? (M.left + W - M.right) / 2
      : M.left + ((Math.log(c) - lo) / (hi - lo)) * (W - M.left - M.right);
  const y = (v: number) => H - M.bottom - (top > 0 ? (v / top) * (H - M.top - M.bottom) : 0);
  return { x, y };
}

function axes(conns: number[], top: number, x: (c: number) => number, y: (v: number) => number): string {
  const xs = conns
    .map(
      (c) =>
        `<line x1="${x(c)}" x2="${x(c)}" y1="${H - M.bottom}" y2="${H - M.bottom + 4}" stroke="#888"/>` +
        `<text x="${x(c)}" y="${H - M.bottom + 16}" text-anchor="middle">${c}</text>`,
    )
    .join("");
  const ys = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => {
      const v = top * f;
      return (
        `<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>` +
        `<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${num(v)}</text>`
      );
    })
    .join("");
  return (
    `${ys}${xs}<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#888"/>` +
    `<text x="${(M.left + W - M.right) / 2}" y="${H - 6}" text-anchor="middle">clients (log scale)</text>`
  );
}

function seriesSvg(s: SweepSeries, i: number, metric: SweepMetric, sc: ReturnType<typeof scales>): string {
  const pts = s.points.filter((p) => p.values[metric]).map((p) => ({ c: p.conns, v: p.values[metric]! }));
  if (pts.length === 0) return "";
  const band = [
    ...pts.map((p) => `${sc.x(p.c)},${sc.y(p.v.max)}`),
    ...pts.reverse().map((p) => `${sc.x(p.c)},${sc.y(p.v.min)}`),
  ];
  pts.reverse();
  const line = pts.map((p) => `${sc.x(p.c)},${sc.y(p.v.median)}`).join(" ");
  const dots = pts
    .map(
      (p) =>
        `<circle cx="${sc.x(p.c)}" cy="${sc.y(p.v.median)}" r="3" fill="${color(i)}">` +
        `<title>${escapeHtml(`${s.name}, ${p.c} clients: ${spreadText(p.v)}`)}</title></circle>`,
    )
    .join("");
  return (
    `<g class="series" data-series="${escapeHtml(s.key)}">` +
    `<polygon class="band" points="${band.join(" ")}" fill="${color(i)}" fill-opacity="0.18" stroke="none"/>` +
    `<polyline class="median" points="${line}" fill="none" stroke="${color(i)}" stroke-width="2"/>${dots}</g>`
  );
}

const right = (px: number) => px > (M.left + W - M.right) / 2;

function crossoverMarks(list: Crossover[], x: (c: number) => number): string {
  return list
    .filter((c) => c.from !== null)
    .map(
      (c, k) =>
        `<g class="crossover"><line x1="${x(c.from!)}" x2="${x(c.from!)}" y1="${M.top}" y2="${H - M.bottom}" ` +
        `stroke="#333" stroke-dasharray="4 3"/><text x="${x(c.from!) + (right(x(c.from!)) ? -4 : 4)}" ` +
        `y="${M.top + 12 + k * 13}" text-anchor="${right(x(c.from!)) ? "end" : "start"}">` +
        `${escapeHtml(`${c.challenger} ahead from ${c.from}`)}</text></g>`,
    )
    .join("");
}

function chart(series: SweepSeries[], metric: SweepMetric, title: string, marks: Crossover[]): string {
  const values = series.flatMap((s) =>
    s.points.flatMap((p) => (p.values[metric] ? [p.values[metric]!.max] : [])),
  );
  if (values.length === 0) return "";
  const conns = [...new Set(series.flatMap((s) => s.points.map((p) => p.conns)))].sort((a, b) => a - b);
  const top = niceTop(Math.max(...values) * 1.04);
  const sc = scales(conns, top);
  const body = series.map((s, i) => seriesSvg(s, i, metric, sc)).join("");
  return (
    `<figure><figcaption>${escapeHtml(title)}</figcaption>` +
    `<svg class="chart" data-metric="${metric}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">` +
    `${axes(conns, top, sc.x, sc.y)}${body}${crossoverMarks(
      marks.filter((c) => c.metric === metric),
      sc.x,
    )}</svg></figure>`
  );
}

function table(series: SweepSeries[]): string {
  const metrics = SWEEP_FIGURES;
  const conns = [...new Set(series.flatMap((s) => s.points.map((p) => p.conns)))].sort((a, b) => a - b);
  const head = ["clients", "target", "runs", ...metrics.map((m) => FIGURES[m].sweep.column)];
  const rows = conns.flatMap((c) =>
    series.flatMap((s, i) => {
      const p = s.points.find((q) => q.conns === c);
      if (!p) return [];
      const cells = [
        String(c),
        `<span class="swatch" style="background:${color(i)}"></span>${escapeHtml(s.name)}`,
        String(p.runs),
      ];
      return [
        `<tr>${cells
          .concat(metrics.map((m) => escapeHtml(spreadText(p.values[m]))))
          .map((t) => `<td>${t}</td>`)
          .join("")}</tr>`,
      ];
    }),
  );
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

const STYLE = `body{font:14px system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}
figure{display:inline-block;margin:0 16px 16px 0}figcaption{font-weight:600;margin-bottom:4px}
svg text{font-size:11px;fill:#444}table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
td:nth-child(2),th:nth-child(2){text-align:left}.swatch{display:inline-block;width:10px;height:10px;margin-right:6px}
ul.lines li{margin:2px 0}code{background:#f4f4f4;padding:1px 4px}`;

/** The sweep's page: the crossover in words, the curves (repeats as range bands), the table. No script, no fetch. */
export function renderSweepHtml(index: SweepIndex, series: SweepSeries[]): string {
  const plan = index.plan;
  const marks = crossovers(series);
  const uniq = crossoverLines(series);
  const run = plan.run;
  const stop = [
    run.durationMs !== null ? formatDuration(run.durationMs) : "",
    run.iterations !== null ? iterationsText(run.iterations, run.iterationsSplit) : "",
  ].filter(Boolean);
  const facts = [
    `workload <b>${escapeHtml(plan.workload)}</b> ${escapeHtml(JSON.stringify(run.knobs))}`,
    `clients ${plan.conns.join(", ")}; ${plan.repeat} run(s) per point; ${escapeHtml(stop.join(" or "))} each`,
    ...(plan.poolSizes ? [`PgBouncer pool sizes ${plan.poolSizes.join(", ")}`] : []),
    ...plan.targets.map(
      (t) =>
        `${escapeHtml(t.name)}: <code>${escapeHtml(t.uri)}</code>${t.txnPooling ? " (transaction pooling)" : ""}`,
    ),
    `${index.points.length} point run(s), ${index.complete ? "complete" : "<b>incomplete</b>"}; ${escapeHtml(index.startedAt)}`,
  ];
  const charts = CHARTS.map((c) => chart(series, c.metric, c.title, marks)).join("");
  const legend = series
    .map(
      (s, i) =>
        `<span><span class="swatch" style="background:${color(i)}"></span>${escapeHtml(s.name)}</span>`,
    )
    .join(" &nbsp; ");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dcpbench sweep: ${escapeHtml(plan.workload)}</title>
<style>${STYLE}</style></head><body><h1>dcpbench sweep: ${escapeHtml(plan.workload)}</h1>
<ul>${facts.map((f) => `<li>${f}</li>`).join("")}</ul>
<h2>Crossover</h2><ul class="lines">${uniq.map((l) => `<li>${escapeHtml(l)}</li>`).join("") || "<li>no two targets to compare</li>"}</ul>
<p>Lines are medians over the repeats, bands their range; a target is ahead only where the ranges do not overlap.</p>
<p class="legend">${legend}</p>${charts}
<h2>Points</h2>${table(series)}
<p>dcpbench ${escapeHtml(VERSION)}</p></body></html>
`;
}
