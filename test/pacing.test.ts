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
      const pacer = new Pacer({ start: t0, rampMs: 0, ratePerSec: 5000, arrival: "uniform" });
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
      const count = new Pacer({ start: t0, rampMs: 0, ratePerSec: 5000, arrival: "uniform" });
      let slots = 0;
      while (count.take(deadline) !== undefined) slots++;
      assert.ok(slots >= 1999, `${slots} slots`); // every 0.2 ms for 400 ms
      assert.equal(started, slots);
    } finally {
      stop.abort();
    }
  });

  it("a busy event loop releases the waits that came due itself, before the thread's message can arrive", async () => {
    const stop = new AbortController();
    const alarm = new Alarm(stop.signal, failOnThreadError);
    try {
      const t0 = performance.now();
      const released: number[] = [];
      const waits = [2, 4, 60_000].map((ms) => alarm.until(t0 + ms).then(() => released.push(ms)));
      alarm.releaseDue();
      while (performance.now() < t0 + 10); // the loop busy (a cycle's callbacks) past both due times
      alarm.releaseDue();
      // Only microtasks run here: the thread's message is a task, so what is released came from releaseDue.
      await Promise.resolve();
      await Promise.resolve();
      assert.deepEqual(released, [2, 4], "both due waits, in order; the later one still waiting");
      stop.abort();
      await Promise.all(waits);
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
    const pacer = new Pacer({ start: 1000, rampMs: 0, ratePerSec: 500, arrival: "uniform" }); // every 2 ms from 1000
    const slots: number[] = [];
    for (let t = pacer.take(1100); t !== undefined; t = pacer.take(1100)) slots.push(t);
    assert.equal(slots.length, 50, "100 ms at 500/s hold exactly 50"); // 1000 … 1098
    assert.equal(slots[0], 1000);
    assert.equal(pacer.missedBefore(1100), 0);
    const late = new Pacer({ start: 0, rampMs: 0, ratePerSec: 1000, arrival: "uniform" });
    late.take();
    assert.equal(late.missedBefore(10.5), 10); // slots 1 … 10 came due and were never taken
  });

  it("a ramp raises the rate linearly from 0, then holds it: half the arrivals of the full rate over the ramp", () => {
    // 1000/s after a 1 s ramp from 1000 ms: 500 arrivals in the ramp, a quarter of them in its first half.
    const pacer = new Pacer({ start: 1000, rampMs: 1000, ratePerSec: 1000, arrival: "uniform" });
    const slots: number[] = [];
    for (let t = pacer.take(3000); t !== undefined; t = pacer.take(3000)) slots.push(t);
    const inRamp = slots.filter((t) => t < 2000);
    assert.equal(inRamp.length, 500);
    assert.equal(slots.filter((t) => t < 1500).length, 125); // (0.5)² of 500
    assert.ok(
      slots[0] >= 1000 && slots.every((t, i) => i === 0 || t > slots[i - 1]),
      "increasing, from the start",
    );
    // The gaps shrink through the ramp, then are the full rate's 1 ms.
    assert.ok(slots[1] - slots[0] > slots[400] - slots[399]);
    const after = slots.filter((t) => t >= 2000);
    assert.equal(after.length, 1000);
    for (let i = 1; i < after.length; i++) assert.ok(Math.abs(after[i] - after[i - 1] - 1) < 1e-9);
    // Untaken slots in the ramp are missed as well: 501 due by 2000.5 ms (units 0 … 500), 1 taken.
    const late = new Pacer({ start: 1000, rampMs: 1000, ratePerSec: 1000, arrival: "uniform" });
    late.take();
    assert.equal(late.missedBefore(2000.5), 500);
    assert.equal(late.missedBefore(1000), 0);
  });

  it("workers' uniform slots interleave: each worker's phase puts its slots between the others'", () => {
    const slots: number[] = [];
    for (const phase of [0, 0.5]) {
      const pacer = new Pacer({ start: 0, rampMs: 0, ratePerSec: 500, arrival: "uniform", phase });
      for (let t = pacer.take(100); t !== undefined; t = pacer.take(100)) slots.push(t);
    }
    slots.sort((a, b) => a - b);
    assert.equal(slots[0], 0); // worker 0: 0, 2, 4 …; worker 1: 1, 3, 5 …
    for (let i = 1; i < slots.length; i++) assert.equal(slots[i] - slots[i - 1], 1);
  });

  it("poisson arrivals follow a ramp too: half the full rate's arrivals over it, a quarter in its first half", () => {
    let seed = 11;
    const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const pacer = new Pacer({ start: 0, rampMs: 4000, ratePerSec: 1000, arrival: "poisson", random });
    const slots: number[] = [];
    for (let t = pacer.take(6000); t !== undefined; t = pacer.take(6000)) slots.push(t);
    const within = (from: number, to: number) => slots.filter((t) => t >= from && t < to).length;
    // Expected 500, 1500 and 2000; a Poisson count's standard deviation is its square root.
    assert.ok(Math.abs(within(0, 2000) - 500) < 100, `first half of the ramp: ${within(0, 2000)}`);
    assert.ok(Math.abs(within(2000, 4000) - 1500) < 170, `second half: ${within(2000, 4000)}`);
    assert.ok(Math.abs(within(4000, 6000) - 2000) < 200, `after it: ${within(4000, 6000)}`);
  });

  it("poisson arrivals average the rate", () => {
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const pacer = new Pacer({ start: 0, rampMs: 0, ratePerSec: 1000, arrival: "poisson", random });
    let n = 0;
    while (pacer.take(10_000) !== undefined) n++;
    assert.ok(Math.abs(n - 10_000) < 300, `${n} arrivals in 10 s at 1000/s`);
  });
});
