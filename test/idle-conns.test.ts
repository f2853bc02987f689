import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runCli, runToResult, type RunOutput } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";

const IDLE = 500;
const POOL = 5;
const CONNS = 4;
/** Each client's think time: the workload's cycles are few beside the idle connections' queries. */
const THINK_MS = 100;

describe("--idle-conns: the swarm of mostly idle sessions beside the load", { timeout: 180_000 }, () => {
  let stack: TestStack;
  let direct: RunOutput;
  let pooled: RunOutput;

  const run = (uri: string, extra: string[] = []) =>
    runToResult(
      [
        "select1",
        "--uri",
        uri,
        "--conns",
        String(CONNS),
        "--set",
        `think_ms=${THINK_MS}`,
        "--workers",
        "2",
      ].concat(["--idle-conns", String(IDLE), "--idle-every", "1s", "--duration", "3s", ...extra]),
      { env: stack.env },
    );

  before(async () => {
    stack = await startStack({ poolSize: POOL });
    direct = await run(stack.status.uris.direct);
    pooled = await run(stack.status.uris.pooled, ["--txn-pooling"]);
  });
  after(async () => {
    await stack?.down();
  });

  it("direct: every idle connection is a server session beside the clients', and each sent its queries", () => {
    const idle = direct.result.idle!;
    assert.equal(idle.connected, IDLE);
    assert.equal(idle.heldAtEnd, IDLE);
    assert.equal(idle.errors, 0);
    const s = direct.result.observed!.series;
    assert.equal(s.db_sessions.max, IDLE + CONNS, "the server saw the clients and the idle ones");
    assert.equal(s.run_sessions.max, CONNS, "the run's own sessions are the workload's");
    // Once a second each from a random phase in the first second, over a window of 3 s: two or three each.
    assert.ok(idle.queries >= IDLE, `${idle.queries} idle queries`);
    assert.match(direct.stdout, new RegExp(`idle connections: ${IDLE} of ${IDLE} held beside the load`));
    assert.match(
      direct.stderr,
      new RegExp(`${IDLE} idle connections beside them \\(SELECT 1 every 1s each\\)`),
    );
  });

  it("their queries are not in the workload's counts", () => {
    for (const r of [direct, pooled]) {
      const cycles = r.result.summary.__cycle__.count;
      const seconds = r.result.window!.seconds;
      // At most one cycle per think time per client; the idle queries alone would be 500 a second.
      assert.ok(cycles <= (CONNS * seconds * 1000) / THINK_MS + CONNS, `${cycles} cycles in ${seconds} s`);
      assert.equal(r.result.summary.select.count, cycles);
    }
  });

  it("pooled: PgBouncer holds the idle clients, and the server sees no more than the pool", () => {
    const idle = pooled.result.idle!;
    assert.equal(idle.connected, IDLE);
    assert.equal(idle.errors, 0);
    assert.ok(idle.queries >= IDLE, `${idle.queries} idle queries`);
    const s = pooled.result.observed!.series;
    assert.ok(s.db_sessions.max <= POOL, `server sessions ${s.db_sessions.max} with a pool of ${POOL}`);
    assert.ok(s.pgb_cl_active.max + s.pgb_cl_waiting.max >= IDLE, "PgBouncer knew every idle client");
  });

  it("compare shows them beside each run, and warns when two runs held different numbers", async () => {
    const res = await runCli(["compare", direct.jsonPath, pooled.jsonPath], stack.env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`closed loop, ${IDLE} idle connections \\(SELECT 1 every 1 s\\)`));
    const plain = await runToResult(["select1", "--uri", stack.status.uris.direct, "--duration", "1s"], {
      env: stack.env,
    });
    const differ = await runCli(["compare", plain.jsonPath, direct.jsonPath], stack.env);
    assert.match(
      differ.stdout + differ.stderr,
      new RegExp(`runs differ in idle connections: none vs ${IDLE} idle connections`),
    );
  });

  it("bad values are one line, exit 2", async () => {
    for (const [args, message] of [
      [["--idle-conns", "-1"], /--idle-conns must be a non-negative integer/],
      [["--idle-every", "1s"], /--idle-every needs --idle-conns/],
      [["--idle-conns", "5", "--idle-every", "10ms"], /--idle-every must be at least 100ms/],
    ] as const) {
      const res = await runCli(["run", "select1", "--duration", "1s", ...args], stack.env);
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, message);
      assert.equal(res.stderr.trim().split("\n").length, 1, res.stderr);
    }
  });
});
