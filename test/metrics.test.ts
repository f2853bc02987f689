import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Aggregator } from "../src/metrics/aggregate.js";
import { newHistogram, record, stats } from "../src/metrics/histogram.js";
import { IntervalRecorder } from "../src/metrics/recorder.js";
import { CYCLE } from "../src/metrics/snapshot.js";
import { StallTracker } from "../src/metrics/stalls.js";
import { availability } from "../src/results/availability.js";

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
        workers[Math.floor(rand() * workers.length)].latency(CYCLE, us);
        record(reference, us);
      }
      agg.addInterval(
        interval,
        interval,
        1,
        false,
        workers.map((w) => w.snapshot(interval, interval, false)),
      );
    }
    const merged = agg.summaries()[CYCLE];
    const expected = stats(reference);
    assert.equal(merged.count, 100_000);
    for (const key of ["count", "mean", "min", "p50", "p90", "p95", "p99", "p999", "max"] as const) {
      assert.equal(merged[key], expected[key], key);
    }
    // And the rate uses the measured window: 100,000 in 5 s.
    assert.equal(merged.rate, 20_000);
  });

  it("keeps ramp intervals in the timeline but out of the summary", () => {
    const rec = new IntervalRecorder();
    const agg = new Aggregator();
    rec.latency("op", 5_000_000); // 5 s during the ramp
    agg.addInterval(1, 1, 1, true, [rec.snapshot(1, 1, false)]);
    rec.latency("op", 1000);
    agg.addInterval(2, 2, 1, false, [rec.snapshot(2, 2, false)]);
    assert.equal(agg.timeline.length, 2);
    assert.equal(agg.timeline[0].ramp, true);
    assert.ok(Math.abs(agg.timeline[0].ops.op.max - 5000) < 5, "5 s within HDR's 3 significant digits");
    const s = agg.summaries().op;
    assert.equal(s.count, 1);
    assert.equal(s.max, 1);
    assert.equal(agg.measuredSeconds, 1);
  });

  it("counts errors by class and SQLSTATE, skips and retries apart from latencies", () => {
    const rec = new IntervalRecorder();
    rec.error("op", { cls: "serialization", sqlstate: "40001", message: "restart", broken: false });
    rec.error("op", { cls: "connection", message: "Connection terminated", broken: true });
    rec.skip("op");
    rec.retry("op");
    const agg = new Aggregator();
    agg.addInterval(1, 1, 1, false, [rec.snapshot(1, 1, false)]);
    const s = agg.summaries().op;
    assert.equal(s.count, 0);
    assert.deepEqual(s.errors, { connection: 1, serialization: 1, timeout: 0, other: 0 });
    assert.deepEqual(s.sqlstates, { "40001": 1 });
    assert.equal(s.skipped, 1);
    assert.equal(s.retries, 1);
    assert.equal(agg.errorSamples().length, 2);
  });
});

describe("metrics: stalls (nothing succeeded anywhere)", () => {
  /** A worker's recorder fed successes at the given times, then closed at `end`. */
  function worker(successes: number[], end: number) {
    const rec = new IntervalRecorder();
    for (const t of successes) rec.success(t);
    return rec.snapshot(1, end, true);
  }
  const every = (from: number, to: number, step: number) =>
    Array.from({ length: Math.round((to - from) / step) + 1 }, (_, i) => from + i * step);

  it("is the common silence of all workers, from the last success before to the first after", () => {
    const tracker = new StallTracker();
    // Both workers stop at 2.0 / 2.05 and come back at 4.1 / 4.0: nothing succeeded from 2.05 to 4.0.
    tracker.add(0, worker([...every(0, 2, 0.01), ...every(4.1, 6, 0.01)], 6));
    tracker.add(1, worker([...every(0, 2.05, 0.01), ...every(4, 6, 0.01)], 6));
    const [s, ...rest] = tracker.system();
    assert.deepEqual(rest, []);
    assert.equal(s.from, 2.05);
    assert.equal(s.to, 4);
    assert.equal(s.seconds, 1.95);
  });

  it("is none when one worker went on while another was silent (a partial outage)", () => {
    const tracker = new StallTracker();
    tracker.add(0, worker([...every(0, 2, 0.01), ...every(4, 6, 0.01)], 6));
    tracker.add(1, worker(every(0, 6, 0.01), 6));
    assert.deepEqual(tracker.system(), []);
  });

  it("has no end when nothing succeeded until the end, and counts a finished worker as silent", () => {
    const tracker = new StallTracker();
    tracker.add(0, worker(every(0, 3, 0.01), 3)); // its iterations were done at 3 s
    tracker.add(1, worker(every(0, 5, 0.01), 8)); // stuck from 5 s until the end at 8 s
    assert.deepEqual(tracker.system(), [{ from: 5, to: null, seconds: null }]);
  });

  it("ignores silences shorter than the threshold and is attributed to the fault it followed", () => {
    const tracker = new StallTracker();
    tracker.add(0, worker([...every(0, 1, 0.15), ...every(1.2, 3, 0.01), ...every(5, 6, 0.01)], 6));
    const stalls = tracker.system();
    assert.deepEqual(stalls, [{ from: 3, to: 5, seconds: 2 }]);
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
});
