/// <reference lib="dom" />
/**
 * The report page's own code, run in the browser: reads the data embedded in the page and draws every chart
 * with uPlot (inlined beside it). Compiled with the rest and inlined by html.ts, so it imports types only.
 */
import type uPlotClass from "uplot";
import type { BarChart, Chart, ChartSection, LineChart } from "./model.js";

type UPlot = uPlotClass;
declare const uPlot: typeof uPlotClass;

interface PageData {
  palette: string[];
  sections: ChartSection[];
}

const data = JSON.parse(document.getElementById("report-data")!.textContent ?? "{}") as PageData;
const color = (run: number) => data.palette[run % data.palette.length];

function tint(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${a})`;
}

function fmt(v: number | null | undefined): string {
  if (v == null || !isFinite(v)) return "--";
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** x = log10(1/(1-p)) as a percentile: 0 -> 0%, 1 -> 90%, 2 -> 99%, 3 -> 99.9% ... */
function pctLabel(x: number): string {
  const p = 100 * (1 - Math.pow(10, -x));
  let digits = Math.max(0, Math.ceil(x - 1e-9) - 2);
  if (Math.abs(x - Math.round(x)) > 1e-6) digits = Math.max(1, digits + 1);
  return p.toFixed(digits) + "%";
}

function yRange(_u: UPlot, min: number | null, max: number | null): uPlotClass.Range.MinMax {
  const lo = Math.min(0, min == null ? 0 : min);
  const hi = max == null || max <= lo ? lo + 1 : max + (max - lo) * 0.08;
  return [lo, hi];
}

const axis = (extra: uPlotClass.Axis): uPlotClass.Axis => ({
  stroke: "#444",
  grid: { stroke: "#eee", width: 1 },
  ticks: { stroke: "#ccc", width: 1 },
  ...extra,
});

const hasData = (values: Array<number | null>) => values.some((v) => v != null);

/** The ramp of each run, shaded behind the lines. */
function drawBands(c: LineChart) {
  return (u: UPlot) => {
    if (!c.bands.length) return;
    const ctx = u.ctx;
    const { top, height, left, width } = u.bbox;
    ctx.save();
    for (const b of c.bands) {
      const x0 = Math.max(left, u.valToPos(b.from, "x", true));
      const x1 = Math.min(left + width, u.valToPos(b.to, "x", true));
      if (!(x1 > x0)) continue;
      ctx.fillStyle = tint(color(b.run), 0.13);
      ctx.fillRect(x0, top, x1 - x0, height);
      ctx.fillStyle = tint(color(b.run), 0.9);
      ctx.font = `${11 * devicePixelRatio}px sans-serif`;
      ctx.fillText("ramp", x0 + 4 * devicePixelRatio, top + 13 * devicePixelRatio);
    }
    ctx.restore();
  };
}

function lineOptions(c: LineChart): uPlotClass.Options {
  const percentile = c.xKind === "percentile";
  const xAxis = percentile
    ? axis({
        label: "percentile",
        splits: (_u, _i, _min, max) => Array.from({ length: Math.floor(max + 1e-9) + 1 }, (_, d) => d),
        values: (_u, splits) => splits.map(pctLabel),
      })
    : axis({ label: "seconds since start" });
  return {
    width: 0,
    height: 300,
    scales: {
      // time charts start at 0, so that a first interval (and its ramp shading) is seen whole
      x: { time: false, range: percentile ? undefined : (_u, min, max) => [Math.min(0, min), max] },
      y: { range: yRange },
    },
    axes: [xAxis, axis({ label: c.yLabel, size: 64 })],
    series: [
      {
        label: percentile ? "percentile" : "t (s)",
        value: (_u, v) => (v == null ? "--" : percentile ? pctLabel(v) : v.toFixed(1)),
      },
      ...c.series.map((s): uPlotClass.Series => ({
        label: s.name,
        stroke: color(s.run),
        width: 2,
        dash: s.dash ? [6, 4] : undefined,
        spanGaps: true,
        value: (_u, v) => fmt(v),
      })),
    ],
    hooks: { drawClear: [drawBands(c)] },
  };
}

function barOptions(c: BarChart): uPlotClass.Options {
  const n = c.groups.length;
  const w = 0.8 / Math.max(1, c.series.length);
  return {
    width: 0,
    height: 300,
    cursor: { points: { show: false } },
    scales: {
      x: { time: false, range: () => [-0.5, n - 0.5] },
      y: { range: yRange },
    },
    axes: [
      axis({
        label: "op",
        grid: { show: false },
        splits: () => c.groups.map((_, i) => i),
        values: (_u, splits) => splits.map((i) => c.groups[i] || ""),
      }),
      axis({ label: c.yLabel, size: 64 }),
    ],
    series: [
      { label: "op", value: (_u, v) => (v == null ? "--" : c.groups[v] || "") },
      ...c.series.map((s, r): uPlotClass.Series => ({
        label: s.name,
        stroke: color(s.run),
        fill: color(s.run),
        width: 0,
        points: { show: false },
        value: (_u, v) => fmt(v),
        paths: uPlot.paths.bars!({
          disp: {
            x0: { unit: 1, values: () => c.groups.map((_, i) => i - 0.4 + r * w + w * 0.05) },
            size: { unit: 1, values: () => [w * 0.9] },
          },
        }),
      })),
    ],
  };
}

const plots: Array<{ el: HTMLElement; height: number; plot: UPlot }> = [];

function draw(c: Chart): void {
  const fig = document.getElementById(c.id)!;
  const el = fig.querySelector<HTMLElement>(".plot")!;
  try {
    const opts = c.type === "bars" ? barOptions(c) : lineOptions(c);
    opts.width = Math.max(320, el.clientWidth);
    opts.height = (fig.parentNode as HTMLElement).classList.contains("small") ? 220 : 300;
    const x = c.type === "bars" ? c.groups.map((_, i) => i) : c.x;
    const rows = [x, ...c.series.map((s) => s.values)] as uPlotClass.AlignedData;
    const drawn = c.series.filter((s) => hasData(s.values)).map((s) => color(s.run));
    fig.setAttribute("data-series-colors", drawn.join(" "));
    plots.push({ el, height: opts.height, plot: new uPlot(opts, rows, el) });
  } catch (err) {
    const p = document.createElement("p");
    p.className = "failed";
    p.textContent = `this chart could not be drawn: ${String(err)}`;
    el.appendChild(p);
    console.error(err);
  }
}

for (const section of data.sections) section.charts.forEach(draw);

let pending: ReturnType<typeof setTimeout> | undefined;
window.addEventListener("resize", () => {
  clearTimeout(pending);
  pending = setTimeout(() => {
    for (const p of plots) p.plot.setSize({ width: Math.max(320, p.el.clientWidth), height: p.height });
  }, 100);
});
document.body.setAttribute("data-charts", String(plots.length));
