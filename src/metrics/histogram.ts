import * as hdr from "hdr-histogram-js";
import type { LatencyStats } from "../schema/measures.js";

/** Latencies are recorded in microseconds, from 1 µs to 1 hour, with 3 significant digits. */
export const HIGHEST_US = 3_600_000_000;

export type Histogram = hdr.Histogram;

export function newHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 32,
    autoResize: false,
    useWebAssembly: false,
  });
}

/** Records one latency in µs (clamped into the trackable range, never dropped). */
export function record(h: Histogram, us: number): void {
  h.recordValue(Math.min(HIGHEST_US, Math.max(1, Math.round(us))));
}

/**
 * A histogram's non-zero buckets as flat [bucket index, count, …] pairs: what a worker sends each interval.
 * Cheap to make and to add (no compression, no new 94 KB histogram per op and interval); exact, because the
 * runner's histograms have the same bucket layout (newHistogram).
 */
export type Counts = number[];

// Bucket-level access: every histogram here is built with useWebAssembly false, i.e. a JsHistogram.
const js = (h: Histogram) => h as unknown as hdr.JsHistogram;

export function countsOf(h: Histogram): Counts {
  if (h.totalCount === 0) return [];
  const j = js(h);
  const out: Counts = [];
  const last = Math.min(j.countsArrayLength - 1, j.countsArrayIndex(h.maxValue));
  for (let i = j.countsArrayIndex(h.minNonZeroValue); i <= last; i++) {
    const c = j.getCountAtIndex(i);
    if (c > 0) out.push(i, c);
  }
  return out;
}

/** Adds `counts` (from countsOf on a histogram of the same layout) into `into`. */
export function addCounts(into: Histogram, counts: Counts): Histogram {
  const j = js(into);
  for (let k = 0; k < counts.length; k += 2)
    into.recordValueWithCount(j.valueFromIndex(counts[k]), counts[k + 1]);
  return into;
}

/**
 * For each bound (µs, ascending), how many recorded values are at or below it: a Prometheus histogram's
 * cumulative `le` buckets. An HDR bucket counts where its lowest value falls (its width is under 0.1% of it).
 */
export function cumulativeAtOrBelow(h: Histogram, boundsUs: readonly number[]): number[] {
  const j = js(h);
  const out = new Array<number>(boundsUs.length).fill(0);
  const counts = countsOf(h);
  let b = 0;
  for (let k = 0; k < counts.length; k += 2) {
    const v = j.valueFromIndex(counts[k]);
    while (b < boundsUs.length && v > boundsUs[b]) b++;
    if (b === boundsUs.length) break;
    out[b] += counts[k + 1];
  }
  for (let i = 1; i < out.length; i++) out[i] += out[i - 1];
  return out;
}

/** HdrHistogram's compressed base64 encoding: what result files keep. */
export function encode(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decode(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}

/** Adds every encoded histogram into `into` (exact: same bucket layout, counts add). */
export function mergeInto(into: Histogram, encoded: Iterable<string | undefined>): Histogram {
  for (const e of encoded) {
    if (!e) continue;
    const h = decode(e);
    into.add(h);
    h.destroy();
  }
  return into;
}

/**
 * Runs the per-interval path (record, countsOf, addCounts, stats, encode) on throw-away histograms before a
 * run starts, so that its first use is not cold: a cold first interval stalls the runner long enough to
 * reach the open-loop schedule on a small machine (BENCHMARKS.md, "Measurements behind choices").
 */
export function warmUp(): void {
  const a = newHistogram();
  const b = newHistogram();
  for (let pass = 0; pass < 3; pass++) {
    for (let us = 50; us < 5_000_000; us *= 1.3) record(a, us);
    addCounts(b, countsOf(a));
    stats(b);
    encode(b);
    a.reset();
    b.reset();
  }
  a.destroy();
  b.destroy();
}

const ms = (us: number) => Math.round(us) / 1000;

export function stats(h: Histogram): LatencyStats {
  if (h.totalCount === 0)
    return { count: 0, mean: 0, min: 0, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0, max: 0 };
  return {
    count: h.totalCount,
    mean: ms(h.mean),
    min: ms(h.minNonZeroValue),
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    // The top of the highest bucket, as for every percentile: identical before and after encode/merge.
    max: ms(h.getValueAtPercentile(100)),
  };
}
