import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SteadyJudge } from "../src/runner/steady-state.js";
import { CYCLE, type TimelineEntry } from "../src/schema/measures.js";

/** An interval of `cycles` completions of `p50` ms each, with the pooler holding `conns` server connections. */
const entry = (seq: number, cycles: number, p50: number, conns?: number): TimelineEntry => ({
  seq,
  t: seq,
  dt: 1,
  ramp: true,
  phase: "warmup",
  ops: { [CYCLE]: { count: cycles, errors: 0, skipped: 0, retries: 0, p50, p95: p50, p99: p50, max: p50 } },
  reconnects: 0,
  ...(conns !== undefined ? { observed: { pgb_sv_active: conns, pgb_sv_idle: 0, pgb_sv_used: 0 } } : {}),
});

/** Feeds intervals 1…n and returns the first second (the window's would-be start) at which the judge decides. */
function decide(intervals: Array<[cycles: number, p50: number, conns?: number]>, maxMs = 60_000) {
  const judge = new SteadyJudge({ intervalMs: 1000, rampMs: 0, minMs: 2000, maxMs });
  for (const [i, [cycles, p50, conns]] of intervals.entries()) {
    judge.add(entry(i + 1, cycles, p50, conns));
    const verdict = judge.verdict((i + 2) * 1000);
    if (verdict) return { at: i + 1, ...verdict };
  }
  return undefined;
}

describe("steady state: when an automatic warm-up ends", () => {
  it("waits while the pool fills, then ends once connections and the rate have both stopped moving", () => {
    // A pool growing by 8 server connections a second to 64, the rate following it, then flat.
    const run = Array.from({ length: 30 }, (_, i) => {
      const conns = Math.min(64, 8 * (i + 1));
      return [conns * 10, 50, conns] as [number, number, number];
    });
    const v = decide(run)!;
    assert.equal(v.endedBy, "steady");
    // Full at 8 s: its connections must have stayed flat for a span (3 s) and the rate with them.
    assert.ok(v.at >= 8 + 3, `ended at ${v.at} s, before the pool (full at 8 s) had been flat for a span`);
    assert.match(v.detail, /server connections 64 → 64/);
  });

  it("accepts slow cycles in step (every client sleeping 2 s alike: 200, 0, 200, 0 …)", () => {
    const run = Array.from({ length: 30 }, (_, i) => [i % 2 ? 200 : 0, 2000] as [number, number]);
    assert.equal(decide(run)?.endedBy, "steady");
  });

  it("does not call a rate that keeps climbing steady, and gives up at --warmup-max saying so", () => {
    const run = Array.from({ length: 40 }, (_, i) => [1000 + 150 * i, 20] as [number, number]);
    const v = decide(run, 20_000)!;
    assert.equal(v.endedBy, "max");
    assert.match(v.detail, /not steady after the 20 s allowed/);
  });

  it("does not call a pool below its size with clients waiting steady, however long it has been flat", () => {
    const judge = new SteadyJudge({ intervalMs: 1000, rampMs: 0, minMs: 2000, maxMs: 12_000 });
    let verdict;
    for (let seq = 1; !verdict && seq <= 30; seq++) {
      const e = entry(seq, 1000, 20, 80);
      e.observed = { ...e.observed, pgb_pool_size: 128, pgb_cl_waiting: 300 };
      judge.add(e);
      verdict = judge.verdict((seq + 1) * 1000);
    }
    assert.equal(verdict?.endedBy, "max");
    assert.match(verdict!.detail, /80 → 80 of 128, 300 clients waiting \(still filling\)/);
  });

  it("does not call pools still opening connections steady, however flat the rate", () => {
    const run = Array.from({ length: 40 }, (_, i) => [1000, 20, 10 + i] as [number, number, number]);
    const v = decide(run, 15_000)!;
    assert.equal(v.endedBy, "max");
    assert.match(v.detail, /still growing/);
  });
});
