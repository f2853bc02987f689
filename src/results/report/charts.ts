import { UsageError } from "../../errors.js";
import { decode, encode, mergeInto, newHistogram, stats } from "../../metrics/histogram.js";
import { opOrder } from "../tables.js";
import {
  finite,
  finiteOrNull,
  observedOf,
  unionInOrder,
  type Band,
  type BarChart,
  type LineChart,
  type NamedResult,
  type Series,
} from "./model.js";
import { CONNECT, CYCLE, type TimelineEntry, type TimelineOp } from "../../schema/measures.js";

/** The report's charts, as data: time series per interval, the percentile spectrum, per-op bars. */
/** Points per decade of 1/(1−p) in the percentile spectrum. */
const SPECTRUM_STEP = 0.02;
/** The spectrum stops at 99.99999% (or earlier, where the histogram runs out of samples). */
const SPECTRUM_MAX_X = 7;

/** An interval shorter than this share of the run's interval is folded into the one before it. */
const SLIVER = 0.25;

/** Two consecutive intervals as one: counts add, percentiles come from the merged histograms (exact). */
function mergeIntervals(a: TimelineEntry, b: TimelineEntry): TimelineEntry {
  const ops: Record<string, TimelineOp> = {};
  for (const name of new Set([...Object.keys(a.ops ?? {}), ...Object.keys(b.ops ?? {})])) {
    const x = a.ops?.[name];
    const y = b.ops?.[name];
    if (!x || !y) {
      ops[name] = (x ?? y)!;
      continue;
    }
    const op: TimelineOp = {
      count: finite(x.count) + finite(y.count),
      errors: finite(x.errors) + finite(y.errors),
      skipped: finite(x.skipped) + finite(y.skipped),
      retries: finite(x.retries) + finite(y.retries),
      p50: x.p50,
      p95: x.p95,
      p99: x.p99,
      max: Math.max(finite(x.max), finite(y.max)),
    };
    if (x.histogram && y.histogram) {
      const h = newHistogram();
      try {
        const st = stats(mergeInto(h, [x.histogram, y.histogram]));
        Object.assign(op, { p50: st.p50, p95: st.p95, p99: st.p99, max: st.max, histogram: encode(h) });
      } catch {
        // an undecodable interval histogram: keep the first interval's percentiles
      } finally {
        h.destroy();
      }
    } else if (x.histogram || y.histogram) {
      // one side had no sample (its count was 0): the other's percentiles are the merged ones
      const { p50, p95, p99, histogram } = x.histogram ? x : y;
      Object.assign(op, { p50, p95, p99, histogram });
    }
    ops[name] = op;
  }
  const observed = observedOf(b) ?? observedOf(a);
  return {
    seq: b.seq,
    t: Math.max(finite(a.t), finite(b.t)),
    dt: finite(a.dt) + Math.max(0, finite(b.dt)),
    // A sliver folded in does not change what the interval was (the drain's few ms after a window's last second).
    ramp: Boolean(a.ramp),
    ...(a.phase ? { phase: a.phase } : {}),
    ops,
    reconnects: finite(a.reconnects) + finite(b.reconnects),
    ...(observed ? { observed } : {}),
  } as TimelineEntry;
}

/**
 * The intervals of a run as time charts place them. The last snapshot of a run usually covers a few ms
 * (the stop), and one can even come out of order with dt 0 (workers' clocks differ): such a sliver is
 * folded into the interval before it, so that its count/dt and its percentiles do not spike the chart.
 */
export function chartIntervals(
  timeline: TimelineEntry[],
  intervalSec: number,
): { entries: TimelineEntry[]; folded: number } {
  const out: TimelineEntry[] = [];
  let folded = 0;
  for (const e of timeline) {
    const prev = out[out.length - 1];
    const sliver = !(finite(e.dt) >= SLIVER * intervalSec) || (prev !== undefined && !(finite(e.t) > prev.t));
    if (sliver && prev) {
      out[out.length - 1] = mergeIntervals(prev, e);
      folded++;
    } else if (finite(e.dt) > 0) {
      out.push(e);
    } else {
      folded++; // nothing before it, and no length: it has no place on a time axis
    }
  }
  return { entries: out, folded };
}

interface TimeSeriesSpec {
  name: string;
  dash?: boolean;
  points: Array<[number, number | null]>;
  run: number;
}

/** Joins per-run (t, value) points on one shared, sorted x (nulls where a run has no point). */
function joinOnX(specs: TimeSeriesSpec[]): { x: number[]; series: Series[] } {
  const x = [...new Set(specs.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const index = new Map(x.map((v, i) => [v, i]));
  const series = specs.map((s) => {
    const values: Array<number | null> = new Array<number | null>(x.length).fill(null);
    for (const [t, v] of s.points) values[index.get(t)!] = v;
    return { run: s.run, name: s.name, values, ...(s.dash ? { dash: true } : {}) };
  });
  return { x, series };
}

/** Each run's ramp intervals, merged into contiguous stretches. */
function rampBands(timelines: TimelineEntry[][]): Band[] {
  const bands: Band[] = [];
  timelines.forEach((tl, run) => {
    let open: Band | undefined;
    for (const e of tl) {
      if (!e.ramp) {
        open = undefined;
        continue;
      }
      const from = Math.max(0, e.t - e.dt);
      if (open && from <= open.to + 1e-6) open.to = e.t;
      else bands.push((open = { run, from, to: e.t }));
    }
  });
  return bands;
}

export function timeChart(
  id: string,
  title: string,
  yLabel: string,
  names: string[],
  timelines: TimelineEntry[][],
  value: (e: TimelineEntry) => number | null,
  note?: string,
): LineChart {
  const specs = timelines.map((tl, run) => ({
    run,
    name: names[run],
    points: tl.map((e): [number, number | null] => [e.t, value(e)]),
  }));
  const { x, series } = joinOnX(specs);
  return { type: "line", id, title, xKind: "seconds", yLabel, x, series, bands: rampBands(timelines), note };
}

export const cycleOf = (e: TimelineEntry) => e.ops?.[CYCLE];

/** x = log10(1 / (1 − p)); the latency (ms) at each p, from the run's cumulative histogram. */
function spectrumPoints(encoded: string | undefined, where: string): Array<[number, number | null]> {
  if (!encoded) return [];
  let h;
  try {
    h = decode(encoded);
  } catch (err) {
    throw new UsageError(`${where}: the histogram cannot be decoded (${(err as Error).message})`);
  }
  try {
    const n = h.totalCount;
    if (!(n > 0)) return [];
    const xMax = Math.min(SPECTRUM_MAX_X, Math.max(1, Math.log10(n)));
    const points: Array<[number, number | null]> = [];
    for (let i = 0; ; i++) {
      const x = Math.min(xMax, +(i * SPECTRUM_STEP).toFixed(4));
      const pct = 100 * (1 - 10 ** -x);
      points.push([x, finiteOrNull(h.getValueAtPercentile(pct) / 1000)]);
      if (x >= xMax) break;
    }
    return points;
  } finally {
    h.destroy();
  }
}

export function spectrumChart(results: NamedResult[], names: string[]): LineChart {
  const specs: TimeSeriesSpec[] = [];
  results.forEach((r, run) => {
    const cycle = r.result.summary[CYCLE];
    const where = `${r.path}: summary.${CYCLE}`;
    specs.push({ run, name: names[run], points: spectrumPoints(cycle?.histogram, where) });
    if (cycle?.service?.histogram) {
      specs.push({
        run,
        name: `${names[run]} service time`,
        dash: true,
        points: spectrumPoints(cycle.service.histogram, `${where}.service`),
      });
    }
  });
  const { x, series } = joinOnX(specs);
  const open = specs.some((s) => s.dash);
  return {
    type: "line",
    id: "chart-spectrum",
    title: `${CYCLE} latency by percentile (measured window)`,
    xKind: "percentile",
    yLabel: "ms",
    x,
    series,
    bands: [],
    note:
      "From each run's cumulative HDR histogram; x is log-scaled in 1/(1−p), as HdrHistogram plots it." +
      (open ? " Dashed: service time (open loop, from the actual start)." : ""),
  };
}

export function barCharts(results: NamedResult[], names: string[]): BarChart[] {
  const groups = unionInOrder(results.map((r) => opOrder(r.result.summary))).filter(
    (op) => op !== CONNECT && results.some((r) => finite(r.result.summary[op]?.count) > 0),
  );
  const chart = (id: string, title: string, stat: "mean" | "p99"): BarChart => ({
    type: "bars",
    id,
    title,
    yLabel: "ms",
    groups,
    series: results.map((r, run) => ({
      run,
      name: names[run],
      values: groups.map((op) => {
        const o = r.result.summary[op];
        return o && finite(o.count) > 0 ? finite(o[stat]) : null;
      }),
    })),
  });
  return [
    chart("chart-op-mean", "mean latency per op (measured window)", "mean"),
    chart("chart-op-p99", "p99 latency per op (measured window)", "p99"),
  ];
}
