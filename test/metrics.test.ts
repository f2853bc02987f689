import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Aggregator } from "../src/metrics/aggregate.js";
import {
  addCounts,
  countsOf,
  cumulativeAtOrBelow,
  decode,
  encode,
  HIGHEST_US,
  newHistogram,
  record,
  stats,
} from "../src/metrics/histogram.js";
import { IntervalRecorder } from "../src/metrics/recorder.js";
import { StallTracker } from "../src/metrics/stalls.js";
import { availability } from "../src/results/availability.js";
import { CYCLE } from "../src/schema/measures.js";

/** A deterministic generator, so a failure can be replayed. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe("metrics: exact merge", () => {
  it("percentiles of merged worker histograms equal those of one histogram fed every raw value", () => {
    const rand = lcg(42);
    const workers = Array.from({ length: 4 }, () => new IntervalRecorder());
    const reference = newHistogram();
    const agg = new Aggregator();
    for (let interval = 1; interval <= 5; interval++) {
      for (let i = 0; i < 20_000; i++) {
        // A heavy-tailed mix: mostly ~1 ms, some 10–100 ms, a few seconds.
        const r = rand();
        const us =
          r < 0.9 ? 500 + rand() * 1000 : r < 0.99 ? 10_000 + rand() * 90_000 : 1_000_000 + rand() * 2e6;
        workers[Math.floor(rand() * workers.length)].window.latency(CYCLE, us);
        record(reference, us);
      }
      agg.addInterval(
        interval,
        interval,
        1,
        "window",
        workers.map((w) => w.snapshot(interval, interval, false)),
      );
    }
    agg.measuredSeconds = 5;
    const merged = agg.summaries()[CYCLE];
    const expected = stats(reference);
    assert.equal(merged.count, 100_000);
    for (const key of ["count", "mean", "min", "p50", "p90", "p95", "p99", "p999", "max"] as const) {
      assert.equal(merged[key], expected[key], key);
    }
    // And the rate uses the measured window: 100,000 in 5 s.
    assert.equal(merged.rate, 20_000);
  });

  it("a histogram's counts (what a worker sends) rebuild it exactly, extremes included", () => {
    const rand = lcg(7);
    const h = newHistogram();
    for (let i = 0; i < 50_000; i++) record(h, rand() < 0.001 ? rand() * 1e9 : 100 + rand() * 5000);
    record(h, 1);
    record(h, HIGHEST_US);
    const counts = countsOf(h);
    // Only non-zero buckets travel, as [index, count] pairs.
    assert.ok(counts.length > 0 && counts.length < 2 * 23_552);
    for (let k = 1; k < counts.length; k += 2) assert.ok(counts[k] > 0);
    const rebuilt = addCounts(newHistogram(), counts);
    assert.deepEqual(stats(rebuilt), stats(h));
    assert.equal(encode(rebuilt), encode(h));
    // Twice is the sum; nothing is an empty list.
    assert.equal(addCounts(rebuilt, counts).totalCount, 2 * h.totalCount);
    assert.deepEqual(countsOf(newHistogram()), []);
  });

  it("counts a cycle by the phase of its start: the interval it ends in shows it, the summary holds the window's", () => {
    const rec = new IntervalRecorder();
    const agg = new Aggregator();
    rec.outside.latency("op", 5_000_000); // 5 s, started in the warm-up
    agg.addInterval(1, 1, 1, "warmup", [rec.snapshot(1, 1, false)]);
    rec.outside.latency("op", 3_000_000); // started in the warm-up, ended in the window: not the window's
    rec.window.latency("op", 1000);
    agg.addInterval(2, 2, 1, "window", [rec.snapshot(2, 2, false)]);
    rec.window.latency("op", 2000); // started in the window, ended in the drain: the window's
    rec.outside.latency("op", 4000); // started after the end: nobody's
    agg.addInterval(3, 3, 1, "after", [rec.snapshot(3, 3, false)]);
    assert.equal(agg.timeline.length, 3);
    assert.deepEqual(
      agg.timeline.map((e) => [e.phase, e.ramp]),
      [
        ["warmup", true],
        ["window", false],
        ["after", true],
      ],
    );
    assert.ok(Math.abs(agg.timeline[0].ops.op.max - 5000) < 5, "5 s within HDR's 3 significant digits");
    // Each interval shows all it completed, and says how many of those were the window's.
    assert.equal(agg.timeline[1].ops.op.count, 2);
    assert.deepEqual(agg.timeline[1].window, { op: 1 });
    assert.equal(agg.timeline[2].ops.op.count, 2);
    assert.deepEqual(agg.timeline[2].window, { op: 1 });
    assert.equal(agg.timeline[0].window, undefined);
    // Each interval's histogram is its own (the runner reuses one per op: nothing of interval 1 is left in it).
    assert.equal(decode(agg.timeline[1].ops.op.histogram!).totalCount, 2);
    const s = agg.summaries().op;
    assert.equal(s.count, 2);
    assert.equal(s.min, 1);
    assert.equal(s.max, 2);
    // The timeline's window counts add up to the summary's.
    assert.equal(
      agg.timeline.reduce((n, e) => n + (e.window?.op ?? 0), 0),
      s.count,
    );
  });

  it("counts errors by class and SQLSTATE, skips and retries apart from latencies", () => {
    const rec = new IntervalRecorder();
    rec.error(rec.window, "op", {
      cls: "serialization",
      sqlstate: "40001",
      message: "restart",
      broken: false,
    });
    rec.error(rec.window, "op", { cls: "connection", message: "Connection terminated", broken: true });
    rec.window.skip("op");
    rec.window.retry("op");
    const agg = new Aggregator();
    agg.addInterval(1, 1, 1, "window", [rec.snapshot(1, 1, false)]);
    const s = agg.summaries().op;
    assert.equal(s.count, 0);
    assert.deepEqual(s.errors, { connection: 1, serialization: 1, timeout: 0, other: 0 });
    assert.deepEqual(s.sqlstates, { "40001": 1 });
    assert.equal(s.skipped, 1);
    assert.equal(s.retries, 1);
    assert.equal(agg.errorSamples().length, 2);
  });
});

describe("metrics: Prometheus buckets from HDR counts", () => {
  it("counts each value at or below each bound, cumulatively, and loses none", () => {
    const h = newHistogram();
    for (const [us, n] of [
      [90, 3],
      [100, 2],
      [1_000, 5],
      [1_001, 7],
      [2_500, 1],
      [50_000_000, 4],
    ])
      h.recordValueWithCount(us, n);
    assert.deepEqual(cumulativeAtOrBelow(h, [100, 1_000, 2_000, 3_000, 10_000_000]), [5, 10, 17, 18, 18]);
    assert.equal(h.totalCount, 22, "the 50 s values are only in +Inf");
    assert.deepEqual(cumulativeAtOrBelow(newHistogram(), [1, 2]), [0, 0]);
  });
});

describe("metrics: stalls (nothing succeeded anywhere while cycles waited)", () => {
  type Cycle = [start: number, end: number, ok?: boolean];
  /** A worker's recorder fed cycles (start, end, ok) in time order of their events, then closed at `end`. */
  function worker(cycles: Cycle[], end: number) {
    const rec = new IntervalRecorder();
    const events = cycles.flatMap(([a, b, ok = true]) => [
      { t: a, f: () => rec.cycleStarted(a) },
      { t: b, f: () => rec.cycleEnded(b, ok) },
    ]);
    // Events after the end have not happened yet when the worker stops.
    for (const e of events.filter((e) => e.t <= end).sort((x, y) => x.t - y.t)) e.f();
    return rec.snapshot(1, end, true);
  }
  /** Back-to-back quick cycles from `from` to `to`, one every `step`. */
  const busy = (from: number, to: number, step = 0.01): Cycle[] =>
    Array.from({ length: Math.round((to - from) / step) }, (_, i) => [
      from + i * step,
      from + i * step + step / 2,
    ]);

  it("is the common silence of all workers while cycles waited, until the first success after", () => {
    const tracker = new StallTracker();
    // Both workers' cycles hang from 2.0 / 2.05 until 4.1 / 4.0 (a restart): nothing succeeded from 2.045 to 4.0.
    tracker.add(0, worker([...busy(0, 2), [2, 4.1], ...busy(4.1, 6)], 6));
    tracker.add(1, worker([...busy(0, 2.05), [2.05, 4], ...busy(4, 6)], 6));
    const [s, ...rest] = tracker.system();
    assert.deepEqual(rest, []);
    assert.equal(s.from, 2.045);
    assert.equal(s.to, 4);
  });

  it("counts failing, retried attempts as waiting (a direct restart: errors, back-off, no success)", () => {
    const tracker = new StallTracker();
    const failing: Cycle[] = [0.1, 0.3, 0.7, 1.5].map((d) => [2 + d, 2 + d + 0.001, false]);
    tracker.add(0, worker([...busy(0, 2), ...failing, ...busy(3.6, 5)], 5));
    assert.deepEqual(tracker.system(), [{ from: 2.1, to: 3.605, seconds: 1.505 }]);
  });

  it("is none when one worker went on while another was stalled (a partial outage)", () => {
    const tracker = new StallTracker();
    tracker.add(0, worker([...busy(0, 2), [2, 4], ...busy(4, 6)], 6));
    tracker.add(1, worker(busy(0, 6), 6));
    assert.deepEqual(tracker.system(), []);
  });

  it("is none when nothing was waiting: a low open-loop rate, think time, a ramp", () => {
    const tracker = new StallTracker();
    // One quick cycle every 0.4 s in each worker, aligned: long silences, never a stall.
    const sparse = (phase: number): Cycle[] =>
      Array.from({ length: 20 }, (_, i) => [1 + phase + i * 0.4, 1 + phase + i * 0.4 + 0.002]);
    tracker.add(0, worker(sparse(0), 9));
    tracker.add(1, worker(sparse(0.001), 9));
    assert.deepEqual(tracker.system(), []);
  });

  it("has no end when cycles waited until the end, and counts a finished worker as silent", () => {
    const tracker = new StallTracker();
    tracker.add(0, worker(busy(0, 3), 3)); // its iterations were done at 3 s
    tracker.add(1, worker([...busy(0, 5), [5, 8.5]], 8)); // a cycle hangs from 5 s; the worker ends at 8 s
    assert.deepEqual(tracker.system(), [{ from: 5, to: null, seconds: null }]);
  });

  it("leaves out the stop grace: cycles that finish after the planned end make no stall", () => {
    const tracker = new StallTracker();
    tracker.add(0, worker(busy(0, 10), 10));
    tracker.add(1, worker([...busy(0, 9.9), [9.9, 11]], 11)); // finishes in the grace after a planned end of 10 s
    assert.equal(tracker.system(10).length, 0);
    assert.equal(tracker.system().length, 1, "without the cut it would be one");
  });

  it("is attributed to the fault after which it set in, even when a cycle in flight at the fault began it", () => {
    const tracker = new StallTracker();
    // A cycle in flight since 2.95 hangs when PostgreSQL is killed at 3.0; the others wait from 3.0 on.
    tracker.add(0, worker([...busy(0, 2.95), [2.95, 5], [3, 5], ...busy(5, 6)], 6));
    const stalls = tracker.system();
    assert.equal(stalls.length, 1);
    const [before, kill] = availability(
      [
        { spec: "at=1s kill pgbouncer-1 signal=STOP", startedAt: 1 },
        { spec: "at=3s kill postgres", startedAt: 3 },
      ],
      [],
      stalls,
    );
    assert.equal(before.stall, null);
    assert.deepEqual(kill.stall, stalls[0]);
  });

  it("gives each fault the median over clients of each client's longest outage", () => {
    const o = (client: number, from: number, to: number | null) => ({
      client,
      from,
      firstError: from + 0.05,
      to,
      errors: 1,
      ambiguous: 0,
    });
    const faults = [{ spec: "at=8s kill node-a signal=KILL", startedAt: 8 }];
    // Client 1 has two outages, 0.2 s and 1.0 s: its longest counts. Longest per client: 0.5, 1.0, 3.0.
    const outages = [o(0, 8, 8.5), o(1, 8, 8.2), o(1, 9, 10), o(2, 8, 11)];
    const [a] = availability(faults, outages);
    assert.equal(a.medianClientSec, 1);
    assert.equal(a.worstClientSec, 3);
    const [open] = availability(faults, [o(0, 8, 8.5), o(1, 8, null), o(2, 8, null)]);
    assert.equal(open.medianClientSec, null, "the median client never recovered");
  });

  it("gives a fault no outage that began after the window's end (errors while the run stops)", () => {
    const outage = (client: number, firstError: number, to: number | null) => ({
      client,
      from: firstError - 0.1,
      firstError,
      to,
      errors: 3,
      ambiguous: 0,
    });
    const faults = [{ spec: "at=8s kill node-b signal=TERM", startedAt: 8 }];
    const outages = [outage(0, 8.1, 8.6), outage(1, 34, null)];
    const [cut] = availability(faults, outages, [], 22);
    assert.equal(cut.clientsAffected, 1);
    assert.equal(cut.errors, 3);
    assert.equal(cut.worstClientSec, 0.6);
    assert.equal(cut.medianClientSec, 0.6);
    assert.equal(cut.recoveredAfterSec, 0.6);
    const [uncut] = availability(faults, outages);
    assert.equal(uncut.clientsAffected, 2, "without the window's end the late one counted");
    assert.equal(uncut.worstClientSec, null);
    assert.equal(uncut.medianClientSec, 0.6, "of two clients the nearest-rank median is the shorter");
  });
});
