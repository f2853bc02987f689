import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { stackPaths } from "../src/stack/layout.js";
import { signalMember } from "../src/stack/member-faults.js";
import { stackStartMember } from "../src/stack/stack.js";
import { sleep } from "../src/stack/system.js";
import { resultIn, runCli, runToResult, startCli } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";
import { CYCLE } from "../src/schema/measures.js";

const HOT_ROW = fileURLToPath(new URL("../../test/fixtures/hot-row.mjs", import.meta.url));
const outDir = () => mkdtempSync(join(tmpdir(), "dcpbench-err-"));

describe("errors, retries and reconnects", { timeout: 180_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.down();
  });

  it("retries serialization failures through the transaction helper; no update is lost", async () => {
    const db = await stack.client(stack.status.uris.direct);
    await db.query("DROP TABLE IF EXISTS hot_row; CREATE TABLE hot_row (id int PRIMARY KEY, n int NOT NULL)");
    await db.query("INSERT INTO hot_row VALUES (1, 0)");
    const { result } = await runToResult(
      [
        HOT_ROW,
        "--uri",
        stack.status.uris.direct,
        "--conns",
        "8",
        "--workers",
        "2",
        "--iterations",
        "100",
      ].concat(["--progress", "off"]),
      { env: stack.env },
    );
    const bump = result.summary.bump;
    assert.equal(result.workload, "hot-row");
    assert.ok(bump.retries > 0, "concurrent SERIALIZABLE increments must have been retried");
    // Every cycle either committed (counted) or failed after its retries (a serialization error).
    assert.equal(bump.count + bump.errors.serialization + bump.errors.other, 200);
    assert.equal(bump.errors.other, 0);
    const { rows } = await db.query("SELECT n FROM hot_row WHERE id = 1");
    assert.equal(rows[0].n, bump.count, "the row counts exactly the committed increments");
    if (bump.errors.serialization > 0) assert.equal(bump.sqlstates["40001"], bump.errors.serialization);
  });

  it("PgBouncer killed and restarted mid-run: connection errors, reconnects, and the run goes on", async () => {
    const out = outDir();
    const cli = startCli(
      [
        "run",
        "select1",
        "--uri",
        stack.status.uris.pooled,
        "--txn-pooling",
        "--conns",
        "8",
        "--workers",
        "2",
      ].concat(["--duration", "6s", "--warmup", "1s", "--set", "think_ms=5", "--out", out]),
      stack.env,
    );
    await cli.waitForStderr(/\n\s+2\.0s/);
    await signalMember(stackPaths(stack.dir), "pgbouncer-1", "KILL");
    await sleep(1000);
    await stackStartMember(stack.dir, "pgbouncer-1");
    const res = await cli.done;
    assert.equal(res.code, 0, res.stderr);
    const { result } = resultIn(out);
    const connectionErrors = Object.values(result.summary).reduce((n, o) => n + o.errors.connection, 0);
    assert.ok(connectionErrors > 0, "the outage shows as connection errors");
    assert.ok(result.counters.reconnects >= 8, `every client reconnected (${result.counters.reconnects})`);
    const last = result.timeline.filter((e) => e.t > 4.5 && e.dt >= 0.5); // whole intervals after the restart
    assert.ok(last.length >= 1);
    assert.ok(
      last.every((e) => (e.ops[CYCLE]?.count ?? 0) > 0),
      "load is back after the restart",
    );
    assert.ok(result.errorSamples.some((s) => s.cls === "connection"));
  });

  it("--max-errors gives up: exit 1, partial result", async () => {
    const out = outDir();
    const cli = startCli(
      [
        "run",
        "select1",
        "--uri",
        stack.status.uris.pooled,
        "--txn-pooling",
        "--conns",
        "4",
        "--workers",
        "2",
      ].concat(["--duration", "30s", "--max-errors", "10", "--out", out]),
      stack.env,
    );
    await cli.waitForStderr(/\n\s+1\.0s/);
    await signalMember(stackPaths(stack.dir), "pgbouncer-1", "KILL");
    const res = await cli.done;
    await stackStartMember(stack.dir, "pgbouncer-1");
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /exceed --max-errors 10/);
    const { result } = resultIn(out);
    assert.equal(result.stopReason, "max-errors");
    assert.equal(result.partial, true);
  });
});

describe("clients that cannot connect at first", { timeout: 120_000 }, () => {
  let stack: TestStack;
  before(async () => {
    // PgBouncer accepts only 4 clients: with 8 and a connection per cycle, half of them fail at first and
    // get in later, as connections are released.
    stack = await startStack({ maxClientConn: 4 });
  });
  after(async () => {
    await stack?.down();
  });

  it("run the workload's setup when they finally connect, and their failed cycles count in errors.rate", async () => {
    assert.equal(
      (await runCli(["init", "bank", "--scale", "0.05", "--uri", stack.status.uris.direct], stack.env)).code,
      0,
    );
    // Exit 3: errors.rate sees the failed cycles (asserted by the helper, and below for the reason).
    const { result } = await runToResult(
      [
        "bank",
        "--uri",
        stack.status.uris.pooled,
        "--txn-pooling",
        "--connect-per-txn",
        "--no-observe",
      ].concat(
        ["--conns", "8", "--workers", "2", "--iterations", "100", "--progress", "off"],
        ["--threshold", "errors.rate<0.0001"],
      ),
      { env: stack.env, code: 3 },
    );
    const t = result.summary.transfer;
    assert.ok(t.count > 0, "transfers ran");
    assert.equal(
      t.errors.other,
      0,
      `no transfer failed for want of its setup: ${JSON.stringify(result.errorSamples)}`,
    );
    assert.ok(result.summary.__connect__.errors.connection > 0, "some connections were refused");
    assert.ok(result.summary.__cycle__.errors.connection > 0, "and those cycles count as failed");
    assert.equal(result.thresholds[0].ok, false);
  });
});
