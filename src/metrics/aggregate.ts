import { addCounts, encode, newHistogram, stats, type Histogram } from "./histogram.js";
import { type OpSnapshot, type Snapshot } from "./snapshot.js";
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
  type TimelineEntry,
} from "../schema/measures.js";

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
    this.count += s.count;
    for (const c of ERROR_CLASSES) this.errors[c] += s.errors[c] ?? 0;
    for (const [k, v] of Object.entries(s.sqlstates)) this.sqlstates[k] = (this.sqlstates[k] ?? 0) + v;
    this.skipped += s.skipped;
    this.retries += s.retries;
    this.ambiguous += s.ambiguous ?? 0;
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

/**
 * The runner's side of the metrics: merges the workers' interval snapshots exactly (histograms add),
 * keeps the timeline, and the cumulative per-op totals of the measured (post-ramp) window.
 */
export class Aggregator {
  private readonly totals = new Map<string, Totals>();
  readonly timeline: TimelineEntry[] = [];
  /** Every client outage (last success → first success after), in the order they ended. */
  readonly outages: Outage[] = [];
  /** Every worker's stalls, for the system-wide ones. */
  readonly stalls = new StallTracker();
  private readonly samples = new Map<string, CountedSample>();
  /** Each op's interval histogram, reset and reused (a new one is 94 KB: garbage every interval). */
  private readonly scratch = new Map<string, Histogram>();
  reconnects = 0;
  missed = 0;
  abandoned = 0;
  /** Seconds covered by non-ramp intervals. */
  measuredSeconds = 0;

  /** Merges one interval's snapshots from every worker; returns the timeline entry it made. */
  addInterval(seq: number, t: number, dt: number, ramp: boolean, snaps: Snapshot[]): TimelineEntry {
    const entry: TimelineEntry = { seq, t, dt, ramp, ops: {}, reconnects: 0 };
    const names = new Set(snaps.flatMap((s) => Object.keys(s.ops)));
    for (const name of names) {
      const parts = snaps.map((s) => s.ops[name]).filter((p): p is OpSnapshot => p !== undefined);
      let tot = this.totals.get(name);
      if (!ramp && !tot) this.totals.set(name, (tot = new Totals()));
      let hist = this.scratch.get(name);
      if (hist) hist.reset();
      else this.scratch.set(name, (hist = newHistogram()));
      for (const p of parts) {
        if (p.hist) addCounts(hist, p.hist);
        if (!ramp) tot?.add(p);
      }
      const st = stats(hist);
      entry.ops[name] = {
        count: parts.reduce((n, p) => n + p.count, 0),
        errors: parts.reduce((n, p) => n + sumErrors(p.errors), 0),
        skipped: parts.reduce((n, p) => n + p.skipped, 0),
        retries: parts.reduce((n, p) => n + p.retries, 0),
        ambiguous: parts.reduce((n, p) => n + (p.ambiguous ?? 0), 0) || undefined,
        p50: st.p50,
        p95: st.p95,
        p99: st.p99,
        max: st.max,
        histogram: st.count > 0 ? encode(hist) : undefined,
      };
    }
    for (const s of snaps) {
      entry.reconnects += s.reconnects;
      this.missed += s.missed;
      this.abandoned += s.abandoned;
      for (const sample of s.samples) this.addSample(sample);
      this.outages.push(...(s.outages ?? []));
    }
    this.reconnects += entry.reconnects;
    if (!ramp) this.measuredSeconds += dt;
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
    const key = `${sample.op}|${sample.cls}|${sample.sqlstate ?? ""}|${sample.message}`;
    const seen = this.samples.get(key);
    if (seen) seen.count++;
    else if (this.samples.size < 20) this.samples.set(key, { ...sample, count: 1 });
  }

  /** Latency statistics per op so far (measured window), without encoding histograms: for live scrapes. */
  liveStats(): Record<string, LatencyStats> {
    const out: Record<string, LatencyStats> = {};
    for (const [name, tot] of this.totals) out[name] = stats(tot.hist);
    return out;
  }

  summaries(): Record<string, OpSummary> {
    const out: Record<string, OpSummary> = {};
    for (const [name, tot] of this.totals) out[name] = tot.summary(this.measuredSeconds);
    return out;
  }

  errorSamples(): CountedSample[] {
    return [...this.samples.values()];
  }
}
