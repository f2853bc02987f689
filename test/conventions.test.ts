import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { findPassword } from "../src/db/connect.js";
import { schemaError } from "../src/results/io/validate.js";
import { runCli, runToResult } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";

const tmp = () => mkdtempSync(join(tmpdir(), "dcpbench-conv-"));

describe("options from the environment and --config, --json, DATABASE_URL", { timeout: 300_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.down();
  });

  it("the command line wins, then DCPBENCH_<OPTION>, then --config FILE, then the defaults", async () => {
    const config = join(tmp(), "plan.json");
    writeFileSync(config, JSON.stringify({ conns: 5, workers: 1, label: "from-config", warmup: "0" }));
    const env = { ...stack.env, DCPBENCH_CONNS: "3", DCPBENCH_DURATION: "1s", DCPBENCH_PROGRESS: "off" };
    const base = ["select1", "--uri", stack.status.uris.direct, "--config", config];
    const fromEnv = await runToResult(base, { env });
    assert.equal(fromEnv.result.plan.conns, 3, "the environment over the file");
    assert.equal(fromEnv.result.plan.workers, 1, "the file over the default");
    assert.equal(fromEnv.result.label, "from-config");
    assert.equal(fromEnv.result.plan.durationMs, 1000);
    const given = await runToResult([...base, "--conns", "2"], { env });
    assert.equal(given.result.plan.conns, 2, "the command line over the environment");
  });

  it("a bad value from the environment or the file is one line naming it, exit 2", async () => {
    const uri = ["--uri", stack.status.uris.direct];
    const bad = await runCli(["run", "select1", ...uri], { ...stack.env, DCPBENCH_WORKERS: "two" });
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, "dcpbench: DCPBENCH_WORKERS: not a number\n");
    const config = join(tmp(), "typo.json");
    writeFileSync(config, JSON.stringify({ cons: 5 }));
    const typo = await runCli(["run", "select1", ...uri, "--config", config], stack.env);
    assert.equal(typo.code, 2);
    assert.equal(typo.stderr, `dcpbench: --config ${config}: "cons" is not an option of this command\n`);
    // Another command's option in the environment is left alone: compare has no --conns.
    const other = await runCli(["compare", "--help"], { ...stack.env, DCPBENCH_CONNS: "3" });
    assert.equal(other.code, 0, other.stderr);
  });

  it("--json: stdout is the result file itself, the tables go to stderr", async () => {
    const out = tmp();
    const res = await runCli(
      ["run", "select1", "--uri", stack.status.uris.direct, "--duration", "1s", "--json", "--out", out],
      stack.env,
    );
    assert.equal(res.code, 0, res.stderr);
    const printed = JSON.parse(res.stdout);
    assert.equal(schemaError(printed, "result"), undefined);
    assert.match(res.stderr, /result: \S+\.json/);
    const path = /result: (\S+\.json)/.exec(res.stderr)![1];
    assert.equal(res.stdout, readFileSync(path, "utf8"));
  });

  it("DATABASE_URL is a target when --uri and PGURI are not given", async () => {
    const env: NodeJS.ProcessEnv = {
      ...stack.env,
      DATABASE_URL: stack.status.uris.direct,
      DCPBENCH_STACK_DIR: tmp(),
    };
    delete env.PGURI;
    const res = await runToResult(["select1", "--duration", "1s", "--progress", "off"], { env });
    assert.equal(res.result.plan.uri, stack.status.uris.direct);
  });

  it("dcpbench completion prints a shell completion script", async () => {
    const res = await runCli(["completion"], stack.env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /dcpbench --get-yargs-completions/);
  });
});

describe("the password file, found as libpq finds it", () => {
  it("a socket directory and port given as URI parameters pick their own pgpass line", async () => {
    const dir = tmp();
    const file = join(dir, "pgpass");
    writeFileSync(
      file,
      ["localhost:5432:db:u:wrong", "/run/pg:6432:db:u:right", "*:*:*:u:fallback", ""].join("\n"),
    );
    chmodSync(file, 0o600);
    const saved = { PGPASSFILE: process.env.PGPASSFILE, PGPASSWORD: process.env.PGPASSWORD };
    process.env.PGPASSFILE = file;
    delete process.env.PGPASSWORD;
    try {
      assert.equal(await findPassword("postgresql:///db?host=/run/pg&port=6432&user=u"), "right");
      assert.equal(await findPassword("postgresql://u@localhost/db"), "wrong");
      assert.equal(await findPassword("postgresql://u@db.example:7000/other"), "fallback");
      assert.equal(await findPassword("postgresql://u:given@localhost/db"), "given");
    } finally {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });
});
