import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stackPaths } from "../src/stack/layout.js";
import { signalMember } from "../src/stack/member-faults.js";
import { sleep } from "../src/stack/system.js";
import { resultIn, startCli } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";
import type { ResultFile } from "../src/schema/result.js";
import { CYCLE } from "../src/schema/measures.js";

const FREEZE_MS = 2000;
const DURATION_S = 7;

/** Runs select1 through PgBouncer and freezes PgBouncer (SIGSTOP) for 2 s once 2 s of the run have passed. */
async function runWithFreeze(stack: TestStack, pacing: string[]): Promise<ResultFile> {
  const out = mkdtempSync(join(tmpdir(), "dcpbench-stall-"));
  const cli = startCli(
    ["run", "select1", "--uri", stack.status.uris.pooled, "--txn-pooling", "--workers", "2"].concat([
      "--duration",
      `${DURATION_S}s`,
      // A fixed warm-up: the freeze, timed from the start, must fall in the window.
      "--warmup",
      "1s",
      "--out",
      out,
      ...pacing,
    ]),
    stack.env,
  );
  await cli.waitForStderr(/\n\s+2\.0s/);
  const paths = stackPaths(stack.dir);
  await signalMember(paths, "pgbouncer-1", "STOP");
  await sleep(FREEZE_MS);
  await signalMember(paths, "pgbouncer-1", "CONT");
  const res = await cli.done;
  assert.equal(res.code, 0, res.stderr);
  return resultIn(out).result;
}

describe("a stall is never hidden: PgBouncer frozen for 2 s", { timeout: 120_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.down();
  });

  it("open loop: max ≈ the freeze, and p99/p90 as large as the share of arrivals during it implies", async () => {
    const result = await runWithFreeze(stack, ["--rate", "200", "--conns", "8"]);
    const cycle = result.summary[CYCLE];
    // Requests arrive uniformly; those due during the freeze wait for its end: their latencies spread
    // evenly over (0, 2 s]. They are share = freeze / duration of all requests, so the p-th percentile is
    // about freeze × (1 − (1 − p) / share).
    const share = FREEZE_MS / 1000 / result.elapsedSec;
    const expected = (p: number) => FREEZE_MS * (1 - (1 - p) / share);
    assert.ok(cycle.max >= 0.9 * FREEZE_MS, `max ${cycle.max} ms`);
    assert.ok(
      cycle.p99 >= 0.8 * expected(0.99),
      `p99 ${cycle.p99} ms, expected ≈ ${expected(0.99).toFixed(0)}`,
    );
    assert.ok(
      cycle.p90 >= 0.8 * expected(0.9),
      `p90 ${cycle.p90} ms, expected ≈ ${expected(0.9).toFixed(0)}`,
    );
    // The service time alone (from the actual start) is what a closed loop would have shown.
    assert.ok(
      cycle.service!.p90 < cycle.p90 / 2,
      `service p90 ${cycle.service!.p90} vs latency p90 ${cycle.p90}`,
    );
    const errors = Object.values(cycle.errors).reduce((a, b) => a + b, 0);
    assert.equal(errors, 0, "a freeze is latency, not errors");
    assert.ok(
      Math.abs(cycle.count - 200 * result.elapsedSec) < 0.05 * 200 * result.elapsedSec,
      `count ${cycle.count}`,
    );
  });

  it("closed loop, same freeze: max shows it, but p99 hides it (coordinated omission)", async () => {
    const result = await runWithFreeze(stack, ["--conns", "4", "--set", "think_ms=20"]);
    const cycle = result.summary[CYCLE];
    assert.ok(cycle.max >= 0.9 * FREEZE_MS, `max ${cycle.max} ms`);
    // Each of the 4 clients was stuck once: 4 samples among ~1000 — below the 1% that p99 would need.
    assert.ok(cycle.p99 < 0.25 * FREEZE_MS, `closed-loop p99 ${cycle.p99} ms`);
  });
});
