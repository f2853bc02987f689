import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import { Alarm } from "../src/runner/alarm.js";
import { Pacer, Sleeper } from "../src/runner/pacing.js";

const failOnThreadError = (err: Error) => assert.fail(`pacing thread failed: ${err.message}`);

// A lost wake-up would hang a test: the timeout turns that into a failure.
describe("open-loop pacing", { timeout: 30_000 }, () => {
  it("the alarm never releases a wait before its time, in whatever order the waits come", async () => {
    const stop = new AbortController();
    const alarm = new Alarm(stop.signal, failOnThreadError);
    try {
      const t0 = performance.now();
      // Mostly increasing (as the pacer hands slots out), some out of order, some already past.
      const times = Array.from({ length: 300 }, (_, i) => t0 + i + (i % 7 === 0 ? -5 : (i % 5) * 0.3));
      const released = await Promise.all(
        times.map(async (at) => ({ at, ok: await alarm.until(at), now: performance.now() })),
      );
      for (const r of released) {
        assert.equal(r.ok, true);
        assert.ok(r.now >= r.at, `released ${(r.at - r.now).toFixed(3)} ms early`);
      }
    } finally {
      stop.abort();
    }
  });

  it("clients taking slots as they free up (more waits than the thread looks ahead) all start, none early", async () => {
    const stop = new AbortController();
    const alarm = new Alarm(stop.signal, failOnThreadError);
    try {
      const t0 = performance.now() + 20;
      const pacer = new Pacer(t0, 5000, "uniform");
      const deadline = t0 + 400;
      let early = 0;
      let started = 0;
      // 64 clients, each waiting for its next slot, then "running" for a random 0–1 ms.
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          for (let at = pacer.take(deadline); at !== undefined; at = pacer.take(deadline)) {
            assert.equal(await alarm.until(at), true);
            if (performance.now() < at) early++;
            started++;
            await new Promise((r) => setTimeout(r, Math.random() < 0.5 ? 0 : 1));
          }
        }),
      );
      assert.equal(early, 0);
      const count = new Pacer(t0, 5000, "uniform");
      let slots = 0;
      while (count.take(deadline) !== undefined) slots++;
      assert.ok(slots >= 1999, `${slots} slots`); // every 0.2 ms for 400 ms
      assert.equal(started, slots);
    } finally {
      stop.abort();
    }
  });

  it("a stop releases every pending wait with false, and later ones at once", async () => {
    const stop = new AbortController();
    const alarm = new Alarm(stop.signal, failOnThreadError);
    const pending = [alarm.until(performance.now() + 60_000), alarm.until(performance.now() + 30_000)];
    stop.abort();
    assert.deepEqual(await Promise.all(pending), [false, false]);
    assert.equal(await alarm.until(performance.now() + 10), false);
  });

  it("the sleeper wakes its sleepers, and a stop wakes them all with false", async () => {
    const stop = new AbortController();
    const sleeper = new Sleeper(stop.signal);
    assert.equal(await sleeper.until(performance.now() - 1), true, "a time already past");
    assert.equal(await sleeper.until(performance.now() + 5), true);
    const pending = Array.from({ length: 1000 }, (_, i) => sleeper.until(performance.now() + 60_000 + i));
    stop.abort();
    assert.ok((await Promise.all(pending)).every((ok) => ok === false));
    assert.equal(await sleeper.until(performance.now() + 5), false, "after the stop");
  });

  it("uniform slots at the rate, up to the deadline; untaken due slots are counted as missed", () => {
    const pacer = new Pacer(1000, 500, "uniform"); // every 2 ms from 1000
    const slots: number[] = [];
    for (let t = pacer.take(1100); t !== undefined; t = pacer.take(1100)) slots.push(t);
    assert.equal(slots.length, 49); // 1002 … 1098
    assert.equal(slots[0], 1002);
    assert.equal(pacer.missedBefore(1100), 0);
    const late = new Pacer(0, 1000, "uniform");
    late.take();
    assert.equal(late.missedBefore(10.5), 9); // slots 2 … 10 came due and were never taken
  });

  it("poisson arrivals average the rate", () => {
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const pacer = new Pacer(0, 1000, "poisson", random);
    let n = 0;
    while (pacer.take(10_000) !== undefined) n++;
    assert.ok(Math.abs(n - 10_000) < 300, `${n} arrivals in 10 s at 1000/s`);
  });
});
