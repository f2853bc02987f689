import { FIGURES } from "../figures.js";
import { type SeriesPoint, type Spread, type SweepSeries } from "./summary.js";

/** The challenger against the baseline at one client count: clearly ahead, clearly behind, or no clear winner. */
export type Verdict = "ahead" | "behind" | "tie";

export const CROSSOVER_METRICS = ["throughput", "p99"] as const;
export type CrossoverMetric = (typeof CROSSOVER_METRICS)[number];

export interface PointVerdict {
  conns: number;
  verdict: Verdict;
  /** The challenger's median against the baseline's, in percent. */
  changePct: number;
}

export interface Crossover {
  metric: CrossoverMetric;
  baseline: string;
  challenger: string;
  verdicts: PointVerdict[];
  /** The smallest client count from which the challenger is clearly ahead at every point; null: nowhere. */
  from: number | null;
  /** Some point had one run of either series: nothing is claimed there (no range to tell noise from a difference). */
  single: boolean;
  line: string;
}

/** The hop: what the pooled path adds to each op's p50 at the lowest client count both ran. */
export interface Hop {
  challenger: string;
  baseline: string;
  conns: number;
  cycleMs: { baseline: number; challenger: number };
  ops: Array<{ op: string; deltaMs: number }>;
  /** The challenger's mean cycle, split (queued in the pooler, in the server, elsewhere), against the baseline's. */
  split?: { baseline: SeriesPoint["split"]; challenger: SeriesPoint["split"] };
}

/**
 * Clearly ahead only where the repeats' ranges do not overlap: the worst repeat of one beats the best of the
 * other. (A point with one run of either has no range: `crossovers` claims nothing there.)
 */
export function verdictOf(base: Spread, other: Spread, higherBetter: boolean): Verdict {
  if (higherBetter) {
    if (other.min > base.max) return "ahead";
    if (other.max < base.min) return "behind";
    return "tie";
  }
  if (other.max < base.min) return "ahead";
  if (other.min > base.max) return "behind";
  return "tie";
}

/** The series every other is compared with: the first target that is not a transaction pooler. */
export function baselineOf(series: SweepSeries[]): SweepSeries | undefined {
  return series.find((s) => !s.txnPooling) ?? series[0];
}

const pct = (n: number) => `${n > 0 ? "+" : n < 0 ? "−" : "±"}${Math.abs(n).toFixed(0)}%`;
const range = (values: number[]) => {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return pct(lo) === pct(hi) ? pct(lo) : `${pct(lo)} to ${pct(hi)}`;
};
const clients = (a: number, b: number) => (a === b ? `${a} clients` : `${a}–${b} clients`);

function describe(verdicts: PointVerdict[], base: string, challenger: string): string {
  const segments: PointVerdict[][] = [];
  for (const v of verdicts) {
    const last = segments.at(-1);
    if (last && last[0].verdict === v.verdict) last.push(v);
    else segments.push([v]);
  }
  return segments
    .map((seg, i) => {
      const a = seg[0].conns;
      const b = seg.at(-1)!.conns;
      const toEnd = i === segments.length - 1;
      const by = `(${challenger} ${range(seg.map((v) => v.changePct))})`;
      if (seg[0].verdict === "tie")
        return a === b
          ? `no clear winner at ${a} clients ${by}`
          : `no clear winner between ${a} and ${b} clients ${by}`;
      if (seg[0].verdict === "behind") return `${base} ahead at ${clients(a, b)} ${by}`;
      if (segments.length === 1) return `${challenger} ahead at every point, ${clients(a, b)} ${by}`;
      return toEnd
        ? `${challenger} ahead from ${a} clients ${by}`
        : `${challenger} ahead at ${clients(a, b)} ${by}`;
    })
    .join("; ");
}

function common(base: SweepSeries, other: SweepSeries): Array<[SeriesPoint, SeriesPoint]> {
  return base.points
    .map((p) => [p, other.points.find((q) => q.conns === p.conns)] as const)
    .filter((pair): pair is [SeriesPoint, SeriesPoint] => pair[1] !== undefined);
}

/** Per metric and challenger: where it is clearly ahead of the baseline, where behind, where no one is. */
export function crossovers(series: SweepSeries[]): Crossover[] {
  const base = baselineOf(series);
  if (!base) return [];
  const out: Crossover[] = [];
  for (const other of series.filter((s) => s !== base)) {
    for (const metric of CROSSOVER_METRICS) {
      const verdicts: PointVerdict[] = [];
      let single = false;
      for (const [p, q] of common(base, other)) {
        const a = p.values[metric];
        const b = q.values[metric];
        if (!a || !b) continue;
        const one = a.n < 2 || b.n < 2;
        single ||= one;
        verdicts.push({
          conns: p.conns,
          verdict: one ? "tie" : verdictOf(a, b, FIGURES[metric].higherBetter),
          changePct: a.median > 0 ? (b.median / a.median - 1) * 100 : 0,
        });
      }
      if (verdicts.length === 0) continue;
      let k = verdicts.length;
      while (k > 0 && verdicts[k - 1].verdict === "ahead") k--;
      out.push({
        metric,
        baseline: base.name,
        challenger: other.name,
        verdicts,
        from: k < verdicts.length ? verdicts[k].conns : null,
        single,
        line: `${metric} (${other.name} vs ${base.name}): ${describe(verdicts, base.name, other.name)}`,
      });
    }
  }
  return out;
}

/** The pooled path's extra latency at the lowest client count both series ran: why direct wins there. */
export function hopOf(series: SweepSeries[]): Hop[] {
  const base = baselineOf(series);
  if (!base) return [];
  return series
    .filter((s) => s !== base && s.txnPooling && !base.txnPooling)
    .flatMap((other) => {
      const pair = common(base, other)[0];
      const a = pair?.[0].values.p50;
      const b = pair?.[1].values.p50;
      if (!pair || !a || !b) return [];
      const ops = Object.keys(pair[0].opP50)
        .filter((op) => pair[1].opP50[op] !== undefined)
        .map((op) => ({ op, deltaMs: pair[1].opP50[op] - pair[0].opP50[op] }));
      return [
        {
          challenger: other.name,
          baseline: base.name,
          conns: pair[0].conns,
          cycleMs: { baseline: a.median, challenger: b.median },
          ops,
          ...(pair[0].split && pair[1].split
            ? { split: { baseline: pair[0].split, challenger: pair[1].split } }
            : {}),
        },
      ];
    });
}

const ms = (n: number) => `${n >= 0 ? "+" : "−"}${Math.abs(n).toFixed(3)} ms`;

export function hopLine(h: Hop): string {
  const ops = h.ops.length > 1 ? `; per op: ${h.ops.map((o) => `${o.op} ${ms(o.deltaMs)}`).join(", ")}` : "";
  return (
    `the hop at ${h.conns} clients: ${h.challenger} adds ${ms(h.cycleMs.challenger - h.cycleMs.baseline)} to the ` +
    `cycle's p50 (${h.baseline} ${h.cycleMs.baseline.toFixed(3)} ms → ${h.cycleMs.challenger.toFixed(3)} ms)${ops}` +
    splitText(h)
  );
}

/** "; of the mean cycle: 0.004 ms queued in the pooler, the server +0.002 ms, elsewhere +0.161 ms (hops, client)". */
function splitText(h: Hop): string {
  const a = h.split?.baseline;
  const b = h.split?.challenger;
  if (!a || !b || a.serverMs === null || b.serverMs === null || a.restMs === null || b.restMs === null)
    return "";
  const queued = b.poolerWaitMs === null ? "" : `${b.poolerWaitMs.toFixed(3)} ms queued in the pooler, `;
  return (
    `; of the mean cycle: ${queued}the server ${ms(b.serverMs - a.serverMs)}, ` +
    `elsewhere ${ms(b.restMs - a.restMs)} (the extra hops, the client)`
  );
}
