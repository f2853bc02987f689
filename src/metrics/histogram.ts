import * as hdr from "hdr-histogram-js";

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

/** HdrHistogram's compressed base64 encoding: what workers send and result files keep. */
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

/** Latency statistics in milliseconds. */
export interface LatencyStats {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
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
