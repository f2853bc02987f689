import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { runCli, runToResult } from "./helpers/cli.js";
import { freePortBase, startStack, type TestStack } from "./helpers/stack.js";
import type { ResultFile } from "../src/schema/result.js";
import { CYCLE } from "../src/schema/measures.js";

describe(
  "faults during a run: the run survives, measures the outage, loses nothing",
  { timeout: 400_000 },
  () => {
    let stack: TestStack;

    const run = async (args: string[], code = 0): Promise<ResultFile> =>
      (
        await runToResult([...args, "--workers", "2", "--progress", "off", "--stack-dir", stack.dir], {
          env: stack.env,
          code,
        })
      ).result;
    const errorsOf = (r: ResultFile) =>
      Object.entries(r.summary).reduce(
        (n, [op, o]) => n + (op === CYCLE ? 0 : Object.values(o.errors).reduce((a, b) => a + b, 0)),
        0,
      );

    before(async () => {
      stack = await startStack({ ha: true });
    });
    after(async () => {
      await stack?.down();
    });

    it("(a) --ha: SIGKILL of one PgBouncer behind HAProxy — only its clients see errors, all are back within seconds", async () => {
      const r = await run(
        [
          "select1",
          "--uri",
          stack.status.uris.pooled,
          "--txn-pooling",
          "--conns",
          "20",
          "--duration",
          "6s",
          "--set",
          "think_ms=5",
        ].concat(["--fault", "at=2s kill pgbouncer-1 signal=KILL", "--fault", "at=4s start pgbouncer-1"]),
      );
      assert.equal(r.partial, false);
      assert.deepEqual(
        r.faults.map((f) => f.ok),
        [true, true],
      );
      const kill = r.availability[0];
      assert.ok(kill.clientsAffected > 0, "the killed bouncer's clients saw errors");
      assert.ok(
        kill.clientsAffected <= 11,
        `leastconn puts about half of 20 clients on each bouncer; ${kill.clientsAffected} affected`,
      );
      assert.ok(
        kill.recoveredAfterSec !== null && kill.recoveredAfterSec < 5,
        `recovered after ${kill.recoveredAfterSec}s`,
      );
      assert.ok(
        r.timeline.some((e) => e.faults?.includes("at=2s kill pgbouncer-1 signal=KILL")),
        "the fault is on the timeline",
      );
      assert.equal(
        kill.stall,
        null,
        "the other bouncer's clients went on: never a moment with nothing served",
      );
      assert.equal(r.availability[1].clientsAffected, 0, "starting it again hurts nobody");
      const costs = Object.fromEntries(r.serverSide!.poolers.map((p) => [p.member, p]));
      assert.equal(costs["pgbouncer-1"].cpuSec, null, "a restarted PgBouncer's CPU is not one process's");
      assert.match(costs["pgbouncer-1"].note!, /restarted during the window/);
      assert.ok(costs["pgbouncer-2"].cpuSec! > 0, "the other one is measured");
      // PgBouncer's figures go on while one of the two is down: the other's console still answers.
      const down = r.timeline.filter((e) => e.t > 2.5 && e.t <= 4);
      assert.ok(
        down.length > 0 && down.every((e) => e.observed?.pgb_cl_active !== undefined),
        JSON.stringify(down),
      );
      const late = r.timeline.filter((e) => e.t > 3.5 && e.dt >= 0.5);
      assert.ok(
        late.every((e) => (e.ops[CYCLE]?.count ?? 0) > 0),
        "the run went on",
      );
    });

    it("(b) graceful (SIGTERM) vs dirty (SIGKILL) death of a PgBouncer, compared in one report", async () => {
      const results: string[] = [];
      for (const signal of ["TERM", "KILL"]) {
        const res = await runToResult(
          [
            "select1",
            "--uri",
            stack.status.uris.pooled,
            "--txn-pooling",
            "--conns",
            "20",
            "--workers",
            "2",
            "--duration",
            "5s",
          ].concat(
            [
              "--set",
              "think_ms=5",
              "--progress",
              "off",
              "--label",
              `sig${signal.toLowerCase()}`,
              "--stack-dir",
              stack.dir,
            ],
            ["--fault", `at=2s kill pgbouncer-2 signal=${signal}`, "--fault", "at=3s start pgbouncer-2"],
          ),
          { env: stack.env },
        );
        assert.match(res.stdout, new RegExp(`fault 'at=2s kill pgbouncer-2 signal=${signal}' at 2\\.\\ds: `));
        results.push(res.jsonPath);
      }
      const cmp = await runCli(["compare", ...results], stack.env);
      assert.equal(cmp.code, 0, cmp.stderr);
      assert.match(cmp.stdout, /sigkill vs sigterm/);
    });

    for (const mode of ["direct", "pooled"] as const) {
      it(`(c) PostgreSQL restarted mid-run, ${mode}: the reported outage ≈ the real downtime`, async () => {
        const uri = mode === "direct" ? stack.status.uris.direct : stack.status.uris.pooled;
        const r = await run(
          [
            "select1",
            "--uri",
            uri,
            ...(mode === "pooled" ? ["--txn-pooling"] : []),
            "--conns",
            "8",
            "--duration",
            "8s",
          ].concat([
            "--set",
            "think_ms=5",
            "--fault",
            "at=2s kill postgres signal=INT",
            "--fault",
            "at=4s start postgres",
          ]),
        );
        const [kill, start] = r.faults;
        assert.ok(kill.ok && start.ok, JSON.stringify(r.faults));
        const downtime = start.doneAt! - kill.startedAt!; // from the shutdown signal until PostgreSQL answers again
        const a = r.availability[0];
        const near = (sec: number | null | undefined, what: string) => {
          // Reconnects back off up to 2 s: what is measured may run a little past the real downtime, never far.
          assert.ok(sec != null, `${what}: ended before the end of the run`);
          assert.ok(sec >= 0.8 * downtime, `${what} ${sec}s vs downtime ${downtime.toFixed(2)}s`);
          assert.ok(sec <= downtime + 3, `${what} ${sec}s vs downtime ${downtime.toFixed(2)}s`);
        };
        // Whatever the clients saw, nothing succeeded anywhere while PostgreSQL was down.
        near(a.stall?.seconds, "stall");
        // The server-side sampler connected again after the restart (a clean shutdown keeps the statistics):
        // the window's commits are counted; its CPU is another postmaster's, so it is not.
        const side = r.serverSide!;
        assert.ok(side.summary.commitsPerSec! > 0, JSON.stringify(side.missing));
        assert.equal(side.summary.cpuSec, null);
        assert.match(side.missing.cpuSec!, /restarted during the window/);
        if (mode === "direct") {
          // Every client loses its connection and cannot get another until PostgreSQL is back.
          assert.ok(a.clientsAffected > 0, "the restart was seen as errors");
          assert.ok(a.errors > 0, "the outage is made of errors");
          near(a.outage?.seconds, "outage");
        } else {
          // PgBouncer keeps the clients' connections: a transaction in flight at the shutdown fails, the rest
          // wait in its queue until a server connection can be made again. Errors are possible, not needed.
          const pooled = r.observed?.series.pgb_cl_waiting;
          assert.ok(pooled === undefined || pooled.max > 0, "clients waited in PgBouncer's queue");
          if (a.clientsAffected > 0) near(a.outage?.seconds, "outage");
        }
      });
    }

    it("(d) bank through a PostgreSQL restart and a PgBouncer kill: the sum of balances is unchanged; ambiguous commits counted", async () => {
      assert.equal(
        (await runCli(["init", "bank", "--scale", "0.1", "--uri", stack.status.uris.direct], stack.env)).code,
        0,
      );
      for (const [uri, faults] of [
        [stack.status.uris.direct, ["at=2s kill postgres signal=KILL", "at=3s start postgres"]],
        [stack.status.uris.pooled, ["at=2s kill pgbouncer-1 signal=KILL", "at=3s start pgbouncer-1"]],
      ] as const) {
        const r = await run(
          [
            "bank",
            "--uri",
            uri,
            ...(uri === stack.status.uris.pooled ? ["--txn-pooling"] : []),
            "--conns",
            "8",
            "--duration",
            "6s",
          ].concat(faults.flatMap((f) => ["--fault", f])),
        );
        assert.ok(errorsOf(r) > 0, "the fault caused errors");
        const t = r.summary.transfer;
        assert.equal(
          r.availability.reduce((n, a) => n + a.ambiguousCommits, 0),
          t.ambiguous,
          "ambiguous commits are accounted per fault",
        );
        assert.ok(t.ambiguous <= t.errors.connection, "an ambiguous commit is also a connection error");
        const check = await runCli(["check", "bank", "--uri", stack.status.uris.direct], stack.env);
        assert.equal(check.code, 0, check.stdout + check.stderr);
      }
    });

    it("(e) PgBouncer frozen for 3 s (SIGSTOP / SIGCONT): the latencies show it, no errors needed", async () => {
      const r = await run(
        [
          "select1",
          "--uri",
          stack.status.uris.pgbouncer[0],
          "--txn-pooling",
          "--conns",
          "4",
          "--duration",
          "6s",
          "--set",
          "think_ms=5",
        ].concat([
          "--fault",
          "at=2s kill pgbouncer-1 signal=STOP",
          "--fault",
          "at=5s kill pgbouncer-1 signal=CONT",
        ]),
      );
      assert.equal(errorsOf(r), 0);
      assert.ok(r.summary[CYCLE].max >= 2700, `max ${r.summary[CYCLE].max} ms`);
      // Every client was behind the frozen bouncer: nothing succeeded anywhere for about the 3 s.
      const stall = r.availability[0].stall;
      assert.ok(stall?.seconds != null && stall.seconds >= 2.7 && stall.seconds <= 4, JSON.stringify(stall));
    });

    it("an unreachable host fails fast on the connect timeout (one line, exit 2), never hangs", async () => {
      // A listener that accepts and never answers: the PostgreSQL handshake can only time out.
      const port = await freePortBase();
      const silent = createServer(() => {}).listen(port, "127.0.0.1");
      await new Promise((r) => silent.once("listening", r));
      try {
        const t = Date.now();
        const res = await runCli(
          [
            "run",
            "select1",
            "--uri",
            `postgresql://x@127.0.0.1:${port}/x`,
            "--connect-timeout",
            "1s",
            "--iterations",
            "1",
          ],
          stack.env,
          30_000,
        );
        assert.equal(res.code, 2, res.stderr);
        assert.ok(Date.now() - t < 15_000, "failed fast");
        assert.match(res.stderr, /cannot connect to postgresql:\/\/x@127\.0\.0\.1:\d+\/x: .*timeout/i);
        assert.equal(res.stderr.trim().split("\n").length, 1);
      } finally {
        silent.close();
      }
    });

    it("rejects a fault for a member the stack does not have, or a malformed one", async () => {
      const a = await runCli(
        [
          "run",
          "select1",
          "--iterations",
          "1",
          "--stack-dir",
          stack.dir,
          "--fault",
          "at=1s kill pgbouncer-9",
        ],
        stack.env,
      );
      assert.equal(a.code, 2);
      assert.match(a.stderr, /--fault 'at=1s kill pgbouncer-9': name a member/);
      const b = await runCli(
        ["run", "select1", "--iterations", "1", "--stack-dir", stack.dir, "--fault", "kill postgres"],
        stack.env,
      );
      assert.equal(b.code, 2);
      assert.match(b.stderr, /missing at=TIME/);
    });
  },
);
