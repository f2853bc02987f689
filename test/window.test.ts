import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import type { ResultFile } from "../src/schema/result.js";
import { timeSplit } from "../src/results/time-split.js";
import { CYCLE } from "../src/schema/measures.js";
import { resultIn, runCli, runToResult, startCli } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Within `pct` % of `expected`. */
function near(actual: number, expected: number, pct: number, what: string): void {
  const off = (100 * (actual - expected)) / expected;
  assert.ok(
    Math.abs(off) <= pct,
    `${what}: ${actual} is ${off.toFixed(2)}% off ${expected} (±${pct}% allowed)`,
  );
}

/** What every window must show, whatever the run: its length on the clock, and counts that add up. */
function checkWindow(result: ResultFile, durationSec: number): void {
  const w = result.window!;
  assert.ok(w, "the result records its window");
  assert.equal(w.seconds, durationSec, "the window is the --duration asked for");
  assert.equal(result.elapsedSec, durationSec);
  assert.equal(w.cutOff, 0, "no cycle of the window was cut off");
  const fromTimeline = result.timeline.reduce((n, e) => n + (e.window?.[CYCLE] ?? 0), 0);
  assert.equal(
    fromTimeline,
    result.summary[CYCLE].count,
    "the timeline's window counts add up to the summary",
  );
}

const childrenOf = (pid: number): number[] =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);

/**
 * Rates whose true value is arithmetic: N clients each sleeping a fixed time on the server, a fixed open-loop
 * rate, a pool of S server connections behind PgBouncer. Default flags unless said (the automatic warm-up
 * included): what a user gets.
 */
describe("a window holds what happened in it: known rates come out exact", { timeout: 600_000 }, () => {
  let stack: TestStack;
  /** select1 with two workers, default flags but those given. */
  const select1 = (uri: string, conns: number, duration: string, extra: string[]) =>
    runToResult(
      ["select1", "--uri", uri, "--conns", String(conns), "--workers", "2", "--duration", duration, ...extra],
      { env: stack.env, timeoutMs: 180_000 },
    );

  before(async () => {
    // Five server connections per pool: the pooled case's true rate is 5 / sleep once they are all open.
    stack = await startStack({ poolSize: 5 });
  });
  after(async () => {
    await stack?.down();
  });

  for (const duration of [10, 30]) {
    it(`closed loop, 200 clients × a 2 s pg_sleep, ${duration} s at default flags: 100 cycles/s`, async () => {
      const { result } = await select1(stack.status.uris.direct, 200, `${duration}s`, [
        "--set",
        "sleep_ms=2000",
      ]);
      near(result.summary[CYCLE].rate, 100, 2, "cycles/s");
      checkWindow(result, duration);
      assert.equal(result.window!.warmup.endedBy, "steady", result.window!.warmup.detail);
      // The window's last cycles started before its end and finished in the drain, under the same load.
      assert.equal(result.window!.drained, 200, "every client's last cycle of the window ended in the drain");
      assert.equal(result.generator?.starved, false, result.generator?.reasons.join("; "));
      // Direct: no pooler to queue in; the server's 2 s per cycle, measured by pg_stat_statements.
      const split = timeSplit(result)!;
      assert.equal(split.poolerWaitMs, null);
      near(split.serverMs!, 2000, 5, "executing in the server, per cycle (ms)");
    });
  }

  it("closed loop with a think time: 200 clients × (1 s think + 1 s pg_sleep) is 100 cycles/s of 1 s each", async () => {
    const { result } = await select1(stack.status.uris.direct, 200, "10s", [
      "--set",
      "sleep_ms=1000",
      "--set",
      "think_ms=1000",
    ]);
    near(result.summary[CYCLE].rate, 100, 2, "cycles/s");
    near(result.summary[CYCLE].p50, 1000, 2, "cycle p50 (ms): the think time is not in it");
    checkWindow(result, 10);
  });

  it("through PgBouncer with 5 server connections for 20 clients × a 100 ms pg_sleep: 50 cycles/s, measured warm", async () => {
    const { result } = await select1(stack.status.uris.pooled, 20, "10s", [
      "--txn-pooling",
      "--set",
      "sleep_ms=100",
    ]);
    near(result.summary[CYCLE].rate, 50, 3, "cycles/s");
    checkWindow(result, 10);
    const w = result.window!;
    assert.equal(w.warmup.endedBy, "steady", w.warmup.detail);
    assert.equal(w.atStart?.poolerServerConns, 5, "the pool was full when the window opened");
    assert.equal(w.atEnd?.poolerServerConns, 5);
    // Clients queue in the pooler: each cycle waits for the four ahead of it.
    near(result.summary[CYCLE].p50, 400, 10, "cycle p50 (ms), four 100 ms sleeps queued ahead");
    // Where that time went, each part measured on its own: 300 ms queued in PgBouncer, 100 ms in the server.
    const split = timeSplit(result)!;
    near(split.serverMs!, 100, 10, "executing in the server, per cycle (ms; pg_stat_statements)");
    near(split.poolerWaitMs!, 300, 10, "queued in PgBouncer, per cycle (ms; SHOW STATS)");
    assert.ok(
      Math.abs(split.restMs!) <= 0.1 * split.cycleMs,
      `the parts add up to the cycle's mean within 10%: ${JSON.stringify(split)}`,
    );
  });

  it("open loop at 200/s, well below capacity: exactly the rate", async () => {
    const { result } = await select1(stack.status.uris.direct, 32, "10s", [
      "--set",
      "sleep_ms=20",
      "--rate",
      "200",
    ]);
    near(result.summary[CYCLE].rate, 200, 1, "cycles/s");
    checkWindow(result, 10);
    assert.equal(result.counters.missed, 0);
  });

  it("a worker stopped for 3 s inside the window: the result says the generator was starved, and for how long", async () => {
    const out = mkdtempSync(join(tmpdir(), "dcpbench-run-"));
    const cli = startCli(
      [
        "run",
        "select1",
        "--uri",
        stack.status.uris.direct,
        "--set",
        "sleep_ms=10",
        "--conns",
        "8",
        "--workers",
        "2",
        "--duration",
        "10s",
        "--warmup",
        "1s",
        "--out",
        out,
      ],
      stack.env,
    );
    await cli.waitForStderr(/\n\s+3\.0s/);
    const [worker] = childrenOf(cli.child.pid!);
    process.kill(worker, "SIGSTOP");
    await sleep(3000);
    process.kill(worker, "SIGCONT");
    const res = await cli.done;
    assert.equal(res.code, 0, res.stderr);
    const { result } = resultIn(out);
    const g = result.generator!;
    assert.equal(g.starved, true);
    assert.ok(g.frozenSec >= 2.5 && g.frozenSec <= 3.5, `frozen ${g.frozenSec} s`);
    assert.ok(g.lateIntervals >= 1, "its intervals came late");
    assert.match(g.reasons.join("; "), /frozen for \d/);
    const w = result.window!;
    assert.equal(w.seconds, 10);
    assert.ok(w.measuredSec >= 6.4 && w.measuredSec <= 7.6, `measured ${w.measuredSec} s of 10`);
    assert.match(res.stdout, /note: direct: the load generator was the bottleneck: .*frozen/);
    assert.match(
      res.stdout,
      /note: direct: the load generator kept its interval clock for \d+\.\d s of the 10\.0 s window/,
    );
  });
});

/** The postmaster's whole tree in a cgroup of its own: the kernel's own count of its CPU, exited backends included. */
class CpuAccount {
  private readonly dir: string;
  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Undefined when this machine has no writable cgroup v1 cpuacct hierarchy. */
  static create(postmaster: number): CpuAccount | undefined {
    const base = "/sys/fs/cgroup/cpuacct";
    if (!existsSync(`${base}/cpuacct.usage`)) return undefined;
    const dir = `${base}/dcpbench-test-${process.pid}`;
    try {
      mkdirSync(dir);
      for (const pid of [postmaster, ...childrenOf(postmaster)])
        writeFileSync(`${dir}/cgroup.procs`, `${pid}`);
      return new CpuAccount(dir);
    } catch {
      return undefined;
    }
  }

  /** CPU seconds so far. */
  read(): number {
    return Number(readFileSync(`${this.dir}/cpuacct.usage`, "utf8")) / 1e9;
  }

  remove(): void {
    try {
      for (const pid of readFileSync(`${this.dir}/cgroup.procs`, "utf8").split("\n").filter(Boolean))
        writeFileSync("/sys/fs/cgroup/cpuacct/cgroup.procs", pid);
      rmdirSync(this.dir);
    } catch {
      // left for the machine to clean up
    }
  }
}

describe("the server's CPU over the window, against the kernel's own count", { timeout: 600_000 }, () => {
  let stack: TestStack;
  let account: CpuAccount | undefined;

  before(async () => {
    stack = await startStack();
    // 100,000 flights: at 0.01 sixty-four clients contend for the hot tenth's row locks (deadlocks, and after a
    // few runs cycles of seconds), and the CPU compared would be the lock waits'.
    const init = await runCli(
      ["init", "flight", "--scale", "0.1", "--uri", stack.status.uris.direct],
      stack.env,
    );
    assert.equal(init.code, 0, init.stderr);
    const postmaster = Number(
      readFileSync(join(stack.dir, "postgres", "data", "postmaster.pid"), "utf8").split("\n")[0],
    );
    account = CpuAccount.create(postmaster);
  });
  after(async () => {
    account?.remove();
    await stack?.down();
  });

  it("a 64-client flight run's serverSide CPU is within 10% of a cgroup's reading of the same window, 5 runs of 5", async (t) => {
    if (!account)
      return t.skip("no writable cgroup cpuacct on this machine: nothing independent to compare with");
    const acct = account;
    for (let i = 0; i < 5; i++) {
      const readings: Array<[number, number]> = [];
      const timer = setInterval(() => readings.push([Date.now(), acct.read()]), 20);
      const { result } = await runToResult(
        // A fixed warm-up: what is checked here is the server's CPU over the window, not where it opens.
        [
          "flight",
          "--uri",
          stack.status.uris.direct,
          "--conns",
          "64",
          "--workers",
          "2",
          "--duration",
          "6s",
          "--warmup",
          "2s",
        ],
        { env: stack.env, timeoutMs: 120_000 },
      );
      clearInterval(timer);
      const t0 = Date.parse(result.window!.t0);
      // The sampler reads at the window's edges on its own timers: the cgroup is read at the same instants.
      const at = (epochMs: number) => {
        const i = readings.findIndex(([t]) => t >= epochMs);
        assert.ok(i > 0, "readings cover the window");
        const [ta, a] = readings[i - 1];
        const [tb, b] = readings[i];
        return a + ((b - a) * (epochMs - ta)) / Math.max(1, tb - ta);
      };
      const s = result.serverSide!;
      const from = t0 + result.window!.from * 1000;
      const kernel = at(from + s.windowSec * 1000) - at(from);
      near(s.summary.cpuSec!, kernel, 10, `run ${i + 1}: serverSide cpuSec vs the cgroup's`);
      for (const e of s.intervals)
        assert.ok(
          e.cpuPct === null || e.cpuPct <= 210,
          `an interval's CPU ${e.cpuPct}% is more than the host has`,
        );
    }
  });
});
