import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, it } from "node:test";
import { procUsage } from "../src/observe/proc-usage.js";

/**
 * A root whose children burn CPU briefly and exit all the time, four at once, as backends do when clients
 * disconnect: while it runs, read its CPU over and over; once every child has been reaped, the root's own
 * reading is exact. A child read live and reaped before the root's reaped time was read would be counted
 * twice, and a reading would exceed that final figure.
 */
describe("/proc CPU of a process tree whose children keep exiting", { timeout: 60_000 }, () => {
  it("never counts a child twice: every reading is at most the final total, and readings never go down", async () => {
    const script =
      "end=$((SECONDS+4)); while [ $SECONDS -lt $end ]; do " +
      "for j in 1 2 3 4 5 6; do (i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done) & done; wait; done; " +
      "sleep 2";
    const root = spawn("bash", ["-c", script], { stdio: "ignore" });
    const readings: number[] = [];
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      const u = procUsage(root.pid!, 0);
      if (u) readings.push(u.cpuSec);
      await sleep(1);
    }
    // The loop has ended: the root sleeps, every child reaped, its total complete and final.
    await sleep(1000);
    const final = procUsage(root.pid!, 0)!.cpuSec;
    root.kill();
    assert.ok(readings.length > 200, `only ${readings.length} readings`);
    assert.ok(final > 0.5, `the children burned ${final} s`);
    const over = readings.filter((r) => r > final + 0.001);
    assert.deepEqual(over, [], `readings above the final ${final} s`);
    const drops = readings.filter((r, i) => i > 0 && r < readings[i - 1] - 0.001);
    assert.ok(drops.length === 0, `${drops.length} readings went down`);
  });
});
