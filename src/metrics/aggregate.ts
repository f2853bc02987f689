import { addCounts, encode, mergeInto, newHistogram, stats, type Histogram } from "./histogram.js";
import { type OpSnapshot, type Snapshot, type Stall } from "./snapshot.js";
import { StallTracker } from "./stalls.js";
import {
  CYCLE,
  ERROR_CLASSES,
  type CountedSample,
  type ErrorCounts,
  type ErrorSample,
  type LatencyStats,
  type OpSummary,
  type Outage,
  type Phase,
  type TimelineEntry,
  type TimelineOp,
} from "../schema/measures.js";

/** How many kinds of error a result keeps a sample of (op, class, SQLSTATE, message); the rest are counted. */
export const MAX_ERROR_SAMPLES = 20;

/** Error samples by kind, each with how often it happened: the first MAX_ERROR_SAMPLES kinds are kept. */
export class SampleBook {
  private readonly byKey = new Map<string, CountedSample>();

  add(sample: ErrorSample, count = 1): void {
    const key = `${sample.op}|${sample.cls}|${sample.sqlstate ?? ""}|${sample.message}`;
    const seen = this.byKey.get(key);
    if (seen) seen.count += count;
    else if (this.byKey.size < MAX_ERROR_SAMPLES) this.byKey.set(key, { ...sample, count });
  }

  list(): CountedSample[] {
    return [...this.byKey.values()];
  }
}

/** One op's counts over the parts of an interval (workers' snapshots, or shards' entries). */
interface IntervalCounts {
  count: number;
  errors: number;
  skipped: number;
  retries: number;
  ambiguous?: number;
}

/** A timeline entry's op from its interval histogram and its parts' counts (summed). */
function timelineOp(hist: Histogram, parts: IntervalCounts[]): TimelineOp {
  const st = stats(hist);
  const sum = (f: (p: IntervalCounts) => number) => parts.reduce((n, p) => n + f(p), 0);
  return {
    count: sum((p) => p.count),
    errors: sum((p) => p.errors),
    skipped: sum((p) => p.skipped),
    retries: sum((p) => p.retries),
    ambiguous: sum((p) => p.ambiguous ?? 0) || undefined,
    p50: st.p50,
    p95: st.p95,
    p99: st.p99,
    max: st.max,
    histogram: st.count > 0 ? encode(hist) : undefined,
  };
}

/** One op's interval as several results recorded it (shards of one plan): histograms added exactly. */
export function mergeTimelineOps(parts: TimelineOp[]): TimelineOp {
  const h = mergeInto(
    newHistogram(),
    parts.map((p) => p.histogram),
  );
  const out = timelineOp(h, parts);
  h.destroy();
  if (out.ambiguous === undefined) delete out.ambiguous;
  if (out.histogram === undefined) delete out.histogram;
  return out;
}

/** One op over the whole window as several results recorded it: histograms (the service time's too) added. */
export function mergeOpSummaries(parts: OpSummary[], seconds: number): OpSummary {
  const tot = new Totals();
  for (const p of parts) tot.addSummary(p);
  const out = tot.summary(seconds);
  tot.destroy();
  return out;
}

class Totals {
  readonly hist = newHistogram();
  service: Histogram | undefined;
  count = 0;
  errors: ErrorCounts = { connection: 0, serialization: 0, timeout: 0, other: 0 };
  sqlstates: Record<string, number> = {};
  skipped = 0;
  retries = 0;
  ambiguous = 0;

  add(s: OpSnapshot): void {
    if (s.hist) addCounts(this.hist, s.hist);
    if (s.service) addCounts((this.service ??= newHistogram()), s.service);
    this.addCounts(s);
  }

  /** Adds an op's summary as a result file holds it (another shard's). */
  addSummary(s: OpSummary): void {
    mergeInto(this.hist, [s.histogram]);
    if (s.service) mergeInto((this.service ??= newHistogram()), [s.service.histogram]);
    this.addCounts(s);
  }

  private addCounts(
    s: Pick<OpSnapshot, "count" | "errors" | "sqlstates" | "skipped" | "retries" | "ambiguous">,
  ) {
    this.count += s.count;
    for (const c of ERROR_CLASSES) this.errors[c] += s.errors[c] ?? 0;
    for (const [k, v] of Object.entries(s.sqlstates)) this.sqlstates[k] = (this.sqlstates[k] ?? 0) + v;
    this.skipped += s.skipped;
    this.retries += s.retries;
    this.ambiguous += s.ambiguous ?? 0;
  }

  destroy(): void {
    this.hist.destroy();
    this.service?.destroy();
  }

  summary(seconds: number): OpSummary {
    const out: OpSummary = {
      ...stats(this.hist),
      count: this.count,
      rate: seconds > 0 ? this.count / seconds : 0,
      errors: { ...this.errors },
      sqlstates: { ...this.sqlstates },
      skipped: this.skipped,
      retries: this.retries,
      ambiguous: this.ambiguous,
      histogram: encode(this.hist),
    };
    if (this.service) out.service = { ...stats(this.service), histogram: encode(this.service) };
    return out;
  }
}

/** All errors of one op, whatever their class. */
export const sumErrors = (e: Partial<ErrorCounts>): number =>
  ERROR_CLASSES.reduce((n, c) => n + (e[c] ?? 0), 0);

/**
 * The errors of an interval (or, given a summary, of a run): every op's, except `__cycle__`, whose errors are
 * the same failures counted once more per failed cycle. `__connect__` counts (a connection that failed).
 */
export function intervalErrors(ops: Record<string, { errors: number }>): number {
  return Object.entries(ops).reduce((n, [name, op]) => n + (name === CYCLE ? 0 : op.errors), 0);
}

/** One worker's CPU (µs, user + system) as of an interval's end (seconds since t0). */
export interface CpuReading {
  t: number;
  cpuUs: number;
}

/**
 * The runner's side of the metrics: merges the workers' interval snapshots exactly (histograms add),
 * keeps the timeline, and the cumulative per-op totals of the measured window: the cycles that started in it,
 * whenever they completed.
 */
export class Aggregator {
  private readonly totals = new Map<string, Totals>();
  readonly timeline: TimelineEntry[] = [];
  /** Every client outage (last success → first success after), in the order they ended. */
  readonly outages: Outage[] = [];
  /** Every worker's stalls, for the system-wide ones. */
  readonly stalls = new StallTracker();
  private readonly samples = new SampleBook();
  /** Each op's interval histogram, reset and reused (a new one is 94 KB: garbage every interval). */
  private readonly scratch = new Map<string, Histogram>();
  /** Each op's latencies of every interval so far, whatever its phase: what a live scrape adds up across runs. */
  private readonly sinceStart = new Map<string, Histogram>();
  reconnects = 0;
  missed = 0;
  /** Cycles still running at the end that were not the window's (not recorded, not needed). */
  abandoned = 0;
  /** The window's cycles that ended after its end (in the drain), and those cut off when the drain ended. */
  drained = 0;
  cutOff = 0;
  /** The latest end of the window a worker reported (seconds since t0; a stop ends it early). */
  windowTo: number | undefined;
  /** Seconds of the measured window: the denominator of every rate (set when the run ends). */
  measuredSeconds = 0;
  /** Per worker: the stretches its event loop did not run, and its CPU at each interval's end. */
  readonly freezes = new Map<number, Stall[]>();
  readonly cpu = new Map<number, CpuReading[]>();

  /** What the runner learns from each worker's snapshot before the intervals are merged. */
  noteWorker(worker: number, snap: Pick<Snapshot, "t" | "freezes" | "cpu">): void {
    if (snap.freezes.length) this.freezes.set(worker, [...(this.freezes.get(worker) ?? []), ...snap.freezes]);
    let list = this.cpu.get(worker);
    if (!list) this.cpu.set(worker, (list = []));
    list.push({ t: snap.t, cpuUs: snap.cpu.user + snap.cpu.system });
  }

  /** Merges one interval's snapshots from every worker; returns the timeline entry it made. */
  addInterval(seq: number, t: number, dt: number, phase: Phase, snaps: Snapshot[]): TimelineEntry {
    const entry: TimelineEntry = { seq, t, dt, ramp: phase !== "window", phase, ops: {}, reconnects: 0 };
    const names = new Set(snaps.flatMap((s) => [...Object.keys(s.ops), ...Object.keys(s.outside)]));
    const window: Record<string, number> = {};
    for (const name of names) {
      // The window's part goes to the totals; the interval shows everything that completed in it.
      const own = snaps.map((s) => s.ops[name]).filter((p): p is OpSnapshot => p !== undefined);
      const other = snaps.map((s) => s.outside[name]).filter((p): p is OpSnapshot => p !== undefined);
      const parts = [...own, ...other];
      if (own.length) {
        let tot = this.totals.get(name);
        if (!tot) this.totals.set(name, (tot = new Totals()));
        for (const p of own) tot.add(p);
        const n = own.reduce((k, p) => k + p.count, 0);
        if (n > 0) window[name] = n;
      }
      let hist = this.scratch.get(name);
      if (hist) hist.reset();
      else this.scratch.set(name, (hist = newHistogram()));
      for (const p of parts) if (p.hist) addCounts(hist, p.hist);
      let all = this.sinceStart.get(name);
      if (!all) this.sinceStart.set(name, (all = newHistogram()));
      all.add(hist);
      entry.ops[name] = timelineOp(
        hist,
        parts.map((p) => ({ ...p, errors: sumErrors(p.errors) })),
      );
    }
    if (Object.keys(window).length) entry.window = window;
    for (const s of snaps) {
      entry.reconnects += s.reconnects;
      this.missed += s.missed;
      this.drained += s.drained;
      if (s.end) {
        this.abandoned += s.end.abandoned;
        this.cutOff += s.end.cutOff;
        if (s.end.windowTo !== null) this.windowTo = Math.max(this.windowTo ?? 0, s.end.windowTo);
      }
      for (const sample of s.samples) this.addSample(sample);
      this.outages.push(...(s.outages ?? []));
    }
    this.reconnects += entry.reconnects;
    this.timeline.push(entry);
    return entry;
  }

  /** Merges histograms that are not part of any interval (the initial connections). */
  addUntimed(name: string, snap: OpSnapshot): void {
    let tot = this.totals.get(name);
    if (!tot) this.totals.set(name, (tot = new Totals()));
    tot.add(snap);
  }

  addSample(sample: ErrorSample): void {
    this.samples.add(sample);
  }

  /** Latency statistics per op so far (measured window), without encoding histograms: for live scrapes. */
  liveStats(): Record<string, LatencyStats> {
    const out: Record<string, LatencyStats> = {};
    for (const [name, tot] of this.totals) out[name] = stats(tot.hist);
    return out;
  }

  /** Each op's histogram of every interval so far (not only the window's): for live scrapes, not to keep. */
  liveHistograms(): ReadonlyMap<string, Histogram> {
    return this.sinceStart;
  }

  summaries(): Record<string, OpSummary> {
    const out: Record<string, OpSummary> = {};
    for (const [name, tot] of this.totals) out[name] = tot.summary(this.measuredSeconds);
    return out;
  }

  errorSamples(): CountedSample[] {
    return this.samples.list();
  }
}
