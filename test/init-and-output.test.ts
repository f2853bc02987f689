import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readResult } from "../src/results/io/read.js";
import { runCli, startCli } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";

describe("an interrupted init, a result that cannot be written where asked", { timeout: 300_000 }, () => {
  let stack: TestStack;
  let direct: string;
  const cli = (args: string[]) => runCli(args, stack.env);
  const runOnce = (workload: string) =>
    cli([
      "run",
      workload,
      "--uri",
      direct,
      "--iterations",
      "1",
      "--conns",
      "2",
      "--progress",
      "off",
      "--out",
      tmp(),
    ]);
  const tmp = () => mkdtempSync(join(tmpdir(), "dcpbench-io-"));

  /**
   * `init flight --scale 1` (a million flights: seconds of populating), stopped while it populates: by Ctrl-C
   * (exit 130) or by SIGTERM (143, as a shell reports a process that a TERM ended).
   */
  async function interruptedInit(extra: string[], signal: "SIGINT" | "SIGTERM" = "SIGINT"): Promise<string> {
    const init = startCli(["init", "flight", "--scale", "1", "--uri", direct, ...extra], stack.env);
    await init.waitForStderr(/\[3\/5\] \d+ flights …/);
    init.child.kill(signal);
    const res = await init.done;
    assert.equal(res.code, signal === "SIGTERM" ? 143 : 130, res.stderr);
    return res.stderr;
  }

  before(async () => {
    stack = await startStack();
    direct = stack.status.uris.direct;
  });
  after(async () => {
    await stack?.down();
  });

  it("a run before init names the init to run; an init stopped by Ctrl-C leaves nothing, and init runs again without --drop", async () => {
    const before = await runOnce("flight");
    assert.equal(before.code, 2);
    assert.match(
      before.stderr,
      /^dcpbench: workload flight is not initialised here \(no table flights\): run 'dcpbench init flight --uri \S+' first\n$/,
    );
    assert.match(await interruptedInit([]), /init interrupted: nothing was changed/);
    const after = await runOnce("flight");
    assert.equal(after.code, 2, "the same advice as before the init");
    assert.match(after.stderr, /not initialised here/);
    const again = await cli(["init", "flight", "--scale", "0.01", "--uri", direct]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await runOnce("flight")).code, 0);
  });

  it("an init with --drop stopped by SIGTERM keeps the tables that were there", async () => {
    await interruptedInit(["--drop"], "SIGTERM");
    assert.equal((await runOnce("flight")).code, 0, "the previous tables are still complete");
    const init = await cli(["init", "flight", "--scale", "0.01", "--uri", direct]);
    assert.equal(init.code, 2);
    assert.match(init.stderr, /already initialised here .* add --drop/);
  });

  it("tables left empty with no completion mark (an init that did not finish) are named as such; init recreates them", async () => {
    assert.equal((await cli(["init", "bank", "--scale", "0.01", "--uri", direct])).code, 0);
    const db = await stack.client(direct);
    // What a step-by-step init (CockroachDB) leaves when it stops after creating its tables.
    await db.query("COMMENT ON TABLE bank_accounts IS NULL; TRUNCATE bank_accounts CASCADE");
    await db.end();
    const run = await runOnce("bank");
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /workload bank was left half-initialised here .*: run 'dcpbench init bank --uri \S+' again/,
    );
    const init = await cli(["init", "bank", "--scale", "0.01", "--uri", direct]);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stderr, /left by an interrupted init: recreating them/);
    assert.equal((await runOnce("bank")).code, 0);
  });

  it("the seed's own size: init flight --scale 1 populates a million flights, each departure where the formula puts it", async () => {
    // Populated in full (about 35 s here): the schedule's arithmetic overflowed an int past flight 271,183.
    const init = await cli(["init", "flight", "--scale", "1", "--drop", "--uri", direct]);
    assert.equal(init.code, 0, init.stderr);
    const db = await stack.client(direct);
    const { rows } = await db.query(
      `SELECT (SELECT count(*) FROM flights)::int AS flights,
              (SELECT count(*) FROM seat_inventory)::int AS seats,
              (SELECT extract(epoch FROM max(departure) - min(departure)) / 60 FROM flights)::int AS span_min,
              (SELECT extract(epoch FROM f.departure - (SELECT min(departure) FROM flights)) / 60
                 FROM flights AS f WHERE f.id = 1000000)::int AS last_min`,
    );
    await db.end();
    assert.deepEqual(rows[0], {
      flights: 1_000_000,
      seats: 1_000_000,
      span_min: 10079, // every minute of the week is some flight's
      last_min: (1_000_000 * 7919) % 10080, // flight 1,000,000, computed here without overflow
    });
  });

  it("--out removed during the run: the result is saved in a temporary directory, named on stderr", async () => {
    const out = tmp();
    const run = startCli(
      ["run", "select1", "--uri", direct, "--duration", "3s", "--conns", "2", "--workers", "1", "--out", out],
      stack.env,
    );
    await run.waitForStderr(/\n\s+1\.0s/);
    rmSync(out, { recursive: true });
    writeFileSync(out, "a file where the directory was\n");
    const res = await run.done;
    assert.equal(res.code, 0, res.stderr);
    const m = /cannot write the result to \S+ \(.*\); saved it in (\S+) instead/.exec(res.stderr);
    assert.ok(m, res.stderr);
    const saved = res.stdout.match(/^result: (\S+)$/m)?.[1];
    assert.ok(saved?.startsWith(m[1]) && existsSync(saved), `result: ${saved}`);
    assert.equal(readResult(saved!).workload, "select1");
  });
});
