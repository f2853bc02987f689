import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { runCli, runToResult, type RunOutput } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";
import { opWaitLines, opWaitRows, opWaitShares } from "../src/results/op-waits.js";
import type { OpWaits } from "../src/schema/server-side.js";

const KNOWN = fileURLToPath(new URL("../../test/fixtures/known-waits.mjs", import.meta.url));
const CONNS = 4;

/** One op's share (%) of its sampled session time in `what`. */
function share(w: OpWaits, op: string, what: string): number {
  const events = w.ops[op] ?? {};
  const total = Object.values(events).reduce((a, b) => a + b, 0);
  return total ? (100 * (events[what] ?? 0)) / total : 0;
}

describe(
  "--wait-events: where each op's sessions were, sampled over the window",
  { timeout: 120_000 },
  () => {
    let stack: TestStack;
    let run: RunOutput;
    let waits: OpWaits;

    /** The known-waits workload with --wait-events, direct unless `uri` says otherwise. */
    const known = (extra: string[], uri = stack.status.uris.direct, conns = CONNS) =>
      runToResult([KNOWN, "--uri", uri, "--wait-events", "--conns", String(conns), ...extra], {
        env: stack.env,
      });

    before(async () => {
      stack = await startStack({ poolSize: 4 });
      run = await known(["--duration", "4s"]);
      waits = run.result.serverSide!.opWaits!;
    });
    after(async () => {
      await stack?.down();
    });

    it("each op is found doing what it does: sleeping in the server, idle in its transaction", () => {
      assert.ok(waits, "no opWaits in the result");
      assert.equal(waits.note, undefined);
      assert.ok(share(waits, "server_sleep", "Timeout:PgSleep") > 85, JSON.stringify(waits.ops.server_sleep));
      assert.ok(
        share(waits, "client_sleep", "idle in transaction") > 85,
        JSON.stringify(waits.ops.client_sleep),
      );
      assert.match(run.stdout, /server_sleep +[\d.]+ session-s: Timeout:PgSleep \d+%/);
    });

    it("clients queued on one lock: one holds it, the others wait (3 of 4 sessions on Lock:advisory)", async () => {
      const locked = await known(["--set", "lock_only=true", "--duration", "3s"]);
      const w = locked.result.serverSide!.opWaits!;
      const waiting = share(w, "lock", "Lock:advisory");
      const holding = share(w, "lock", "Timeout:PgSleep");
      assert.ok(Math.abs(waiting - 75) < 10, `waiting ${waiting.toFixed(1)}%: ${JSON.stringify(w.ops)}`);
      assert.ok(Math.abs(holding - 25) < 10, `holding ${holding.toFixed(1)}%: ${JSON.stringify(w.ops)}`);
    });

    it("the sampled session time adds up: clients x window x the op's share of the cycle", () => {
      // A cycle is about 200 ms + 200 ms + the lock's turn; the two sleeps each take their 200 ms of it.
      const cycleMs = run.result.summary.__cycle__.mean;
      const window = run.result.window!.seconds;
      for (const op of ["server_sleep", "client_sleep"]) {
        const sampled = opWaitShares(waits).find((s) => s.op === op)!.sessionSec;
        const expected = (CONNS * window * 200) / cycleMs;
        assert.ok(
          Math.abs(sampled / expected - 1) < 0.2,
          `${op}: ${sampled} session-s, expected ${expected}`,
        );
      }
      assert.ok(waits.samples >= (window * 1000) / waits.sampleMs / 2, `${waits.samples} samples`);
      assert.ok(Math.abs(waits.seconds - window) < 0.5, `sampled ${waits.seconds} s of a ${window} s window`);
    });

    it("pooled, the server's sessions still say which op they run for; compare puts both side by side", async () => {
      const pooled = await known(["--txn-pooling", "--duration", "2s"], stack.status.uris.pooled, 2);
      const w = pooled.result.serverSide!.opWaits!;
      assert.ok(share(w, "server_sleep", "Timeout:PgSleep") > 85, JSON.stringify(w.ops));
      const res = await runCli(["compare", run.jsonPath, pooled.jsonPath], stack.env);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /where each op's sessions were/);
      assert.match(res.stdout, /server_sleep\s*│\s*Timeout:PgSleep\s*│\s*\d+%\s*│\s*\d+%/);
    });

    it("a run without --wait-events sends untagged statements and records no opWaits", async () => {
      const plain = await runToResult(
        ["select1", "--uri", stack.status.uris.direct, "--conns", "1", "--duration", "1s"],
        { env: stack.env },
      );
      assert.equal(plain.result.serverSide?.opWaits, undefined);
      assert.equal(plain.result.plan.waitEvents, undefined);
    });

    it("--wait-events with --no-observe is refused in one line", async () => {
      const res = await runCli(
        ["run", "select1", "--wait-events", "--no-observe", "--duration", "1s"],
        stack.env,
      );
      assert.equal(res.code, 2);
      assert.match(
        res.stderr,
        /^dcpbench: --wait-events samples the server: it cannot go with --no-observe\n$/,
      );
    });
  },
);

describe("--wait-events' figures, from counts", () => {
  const waits = (ops: OpWaits["ops"]): OpWaits => ({
    sampleMs: 100,
    samples: 100,
    seconds: 10,
    skipped: 0,
    ops,
  });

  it("an op's session time is its share of the samples times the seconds sampled; shares add up to 100%", () => {
    const [a] = opWaitShares(waits({ archive: { CPU: 150, "Lock:transactionid": 50 } }));
    assert.equal(a.sessionSec, 20); // 200 session-samples over 100 samples of 10 s: two sessions, on average
    assert.deepEqual(
      a.shares.map((s) => [s.what, s.pct]),
      [
        ["CPU", 75],
        ["Lock:transactionid", 25],
      ],
    );
    assert.match(
      opWaitLines(waits({ archive: { CPU: 150, "Lock:transactionid": 50 } }))[1],
      /archive {2}20\.0 session-s: CPU 75%, Lock:transactionid 25%/,
    );
  });

  it("side by side: each run's largest events, a dash where a run has none", () => {
    const rows = opWaitRows([
      waits({ add: { CPU: 10 }, archive: { "IO:WALSync": 30, CPU: 10 } }),
      undefined,
      waits({ archive: { "Lock:transactionid": 40 } }),
    ]);
    assert.deepEqual(
      rows.map((r) => [r.op, r.what, r.values]),
      [
        ["add", "session-s", [1, null, null]],
        ["add", "CPU", [100, null, null]],
        ["archive", "session-s", [4, null, 4]],
        ["archive", "IO:WALSync", [75, null, 0]],
        ["archive", "CPU", [25, null, 0]],
        ["archive", "Lock:transactionid", [0, null, 100]],
      ],
    );
  });
});
