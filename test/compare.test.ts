import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { runCli, runToResult } from "./helpers/cli.js";
import { schemaError } from "../src/results/io/validate.js";
import { startStack, type TestStack } from "./helpers/stack.js";
import type { ResultFile } from "../src/schema/result.js";

const RUN_WORKLOADS = fileURLToPath(new URL("../../run_workloads.sh", import.meta.url));
const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

describe("compare, thresholds and run_workloads.sh", { timeout: 300_000 }, () => {
  let stack: TestStack;
  let direct: string;
  let pooled: string;
  let slower: string;
  const cli = (args: string[]) => runCli(args, stack.env);

  const select1 = async (label: string, extra: string[]): Promise<string> =>
    (
      await runToResult(
        [
          "select1",
          "--duration",
          "2s",
          "--conns",
          "4",
          "--workers",
          "2",
          "--progress",
          "off",
          "--label",
          label,
        ].concat(extra),
        { env: stack.env },
      )
    ).jsonPath;

  before(async () => {
    stack = await startStack();
    direct = await select1("direct", ["--uri", stack.status.uris.direct]);
    pooled = await select1("pooled", ["--uri", stack.status.uris.pooled, "--txn-pooling"]);
    // A synthetic regression: the same load, each statement made 5 ms slower on the server.
    slower = await select1("slower", ["--uri", stack.status.uris.direct, "--set", "sleep_ms=5"]);
  });
  after(async () => {
    await stack?.down();
  });

  it("compares runs side by side in every format, with the change against the first", async () => {
    const table = await cli(["compare", direct, pooled]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /op\s+│ metric\s+│ direct\s+│ pooled\s+│ pooled vs direct/);
    assert.match(
      table.stdout,
      /direct: select1, direct, 4 conns \/ 2 workers, query mode simple, closed loop/,
    );
    assert.match(table.stdout, /pooled: select1, pooled, 4 conns/);
    for (const metric of ["throughput", "mean", "p50", "p90", "p95", "p99", "max", "errors", "retries"]) {
      assert.match(table.stdout, new RegExp(`│ ${metric}\\s+│`), metric);
    }

    const json = await cli(["compare", direct, pooled, "--format", "json"]);
    const c = JSON.parse(json.stdout);
    assert.equal(
      schemaError(c, "compare"),
      undefined,
      "compare's JSON is what schemas/compare.schema.json says",
    );
    const a = JSON.parse(readFileSync(direct, "utf8")) as ResultFile;
    const b = JSON.parse(readFileSync(pooled, "utf8")) as ResultFile;
    const row = c.rows.find(
      (r: { op: string; metric: string }) => r.op === "__cycle__" && r.metric === "p99",
    );
    assert.deepEqual(row.values, [a.summary.__cycle__.p99, b.summary.__cycle__.p99]);
    assert.ok(
      Math.abs(
        row.changes[1] -
          ((b.summary.__cycle__.p99 - a.summary.__cycle__.p99) / a.summary.__cycle__.p99) * 100,
      ) < 1e-9,
    );

    const md = await cli(["compare", direct, pooled, "--format", "markdown"]);
    assert.match(md.stdout, /^\| op \| metric \| direct \| pooled \| pooled vs direct \|$/m);
    assert.match(md.stdout, /^\| __cycle__ \| p99 \| [\d.]+ \| [\d.]+ \| [+-]?[\d.]+% (faster|slower) \|$/m);

    const csv = await cli(["compare", direct, pooled, "--format", "csv"]);
    assert.equal(csv.stdout.split("\n")[0], "op,metric,direct,pooled,change_pct_pooled");
    const lines = csv.stdout.trim().split("\n").slice(1);
    const opLines = lines.filter((l) => !l.startsWith("server,") && !l.startsWith("server side,"));
    assert.equal(opLines.length, 2 * 9, "two ops (select, __cycle__) × nine metrics");
    assert.ok(
      lines.some((l) => l.startsWith("server,this run's server sessions (max),")),
      "and the server side",
    );
    assert.ok(
      lines.some((l) => /^server side,cpuPerTxnMs,[\d.]+,[\d.]+,[+-]?[\d.]+$/.test(l)),
      "and what the server paid, by --fail-if key",
    );
  });

  it("a change from 0 is +∞% in the table and null in the JSON, never a string where a number belongs", async () => {
    const withError = JSON.parse(readFileSync(pooled, "utf8")) as ResultFile;
    withError.label = "one-error";
    withError.summary.__cycle__.errors.other = 1;
    const path = join(mkdtempSync(join(tmpdir(), "dcpbench-cmp-")), "one-error.json");
    writeFileSync(path, JSON.stringify(withError));
    const table = await cli(["compare", direct, path]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /│ errors\s+│ 0\s+│ 1\s+│ \+∞% \(from 0\)/);
    const json = await cli(["compare", direct, path, "--format", "json"]);
    assert.equal(json.code, 0, json.stderr);
    assert.doesNotMatch(json.stdout, /"inf"/);
    const c = JSON.parse(json.stdout);
    assert.equal(schemaError(c, "compare"), undefined);
    const row = c.rows.find(
      (r: { op: string; metric: string }) => r.op === "__cycle__" && r.metric === "errors",
    );
    assert.deepEqual(row.values, [0, 1]);
    assert.deepEqual(row.changes, [null, null], "no percentage from 0; the values say why");
  });

  it("warns when the runs differ in anything besides the target: knobs, query mode, driver, pacing …", async () => {
    const res = await cli(["compare", direct, slower]);
    assert.equal(res.code, 0);
    assert.match(res.stderr, /warning: runs differ in knobs: sleep_ms=0 .* vs sleep_ms=5/);
    const same = await cli(["compare", direct, pooled]);
    assert.doesNotMatch(same.stderr, /differ/, "direct vs pooled with the same options: the target only");
    const other = await select1("other", [
      "--uri",
      stack.status.uris.direct,
      "--query-mode",
      "extended",
      "--driver",
      "pg",
      "--rate",
      "200",
    ]);
    const res2 = await cli(["compare", direct, other]);
    assert.match(res2.stderr, /warning: runs differ in driver: lean vs pg/);
    assert.match(res2.stderr, /warning: runs differ in query mode: simple vs extended/);
    assert.match(res2.stderr, /warning: runs differ in pacing: closed loop vs open 200\/s uniform/);
    assert.doesNotMatch(res2.stderr, /differ in (conns|knobs|server|workers)/);
  });

  it("--fail-if: a regression crosses the gate (exit 3); no regression passes (exit 0)", async () => {
    const bad = await cli([
      "compare",
      direct,
      slower,
      "--fail-if",
      "p99>+10%",
      "--fail-if",
      "throughput<-5%",
    ]);
    assert.equal(bad.code, 3, bad.stderr);
    assert.match(bad.stderr, /FAIL p99>\+10%: __cycle__ p99 \+[\d.]+% slower \(slower vs direct\)/);
    assert.match(bad.stderr, /FAIL throughput<-5%: select throughput -[\d.]+% less/);
    const perOp = await cli(["compare", direct, slower, "--fail-if", "select.p50>+50%"]);
    assert.equal(perOp.code, 3);
    assert.doesNotMatch(perOp.stderr, /__cycle__/);
    const ok = await cli(["compare", slower, direct, "--fail-if", "p99>+10%"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /all 1 gates passed/);
    const malformed = await cli(["compare", direct, pooled, "--fail-if", "p99 is worse"]);
    assert.equal(malformed.code, 2);
    assert.equal(malformed.stderr.trim().split("\n").length, 1);
  });

  it("--threshold on run: listed, saved in the result, exit 3 when one does not hold, exit 2 when malformed", async () => {
    const out = tmp("dcpbench-thr-");
    const base = [
      "run",
      "select1",
      "--uri",
      stack.status.uris.direct,
      "--iterations",
      "50",
      "--conns",
      "2",
      "--progress",
      "off",
      "--out",
      out,
    ];
    const pass = await cli([...base, "--threshold", "select.p99<5s", "--threshold", "errors.rate<0.01"]);
    assert.equal(pass.code, 0, pass.stderr);
    assert.match(pass.stdout, /threshold ok\s+select\.p99<5s \(actual [\d.]+ ms\)/);
    const fail = await cli([...base, "--threshold", "__cycle__.p50<1us", "--threshold", "errors.count<1"]);
    assert.equal(fail.code, 3, fail.stderr);
    assert.match(fail.stdout, /threshold CROSSED __cycle__\.p50<1us/);
    const files = readdirSync(out)
      .filter((f) => f.endsWith(".json"))
      .sort();
    const last = JSON.parse(readFileSync(join(out, files[files.length - 1]), "utf8")) as ResultFile;
    assert.equal(last.exitCode, 3);
    assert.deepEqual(
      last.thresholds.map((t) => [t.expr, t.ok]),
      [
        ["__cycle__.p50<1us", false],
        ["errors.count<1", true],
      ],
    );
    const malformed = await cli([...base, "--threshold", "p99 under 2s"]);
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /--threshold 'p99 under 2s': expected OP\.METRIC<VALUE/);
  });

  it("compare refuses a corrupt or foreign file with one line, exit 2", async () => {
    const dir = tmp("dcpbench-bad-");
    writeFileSync(join(dir, "corrupt.json"), "{ not json");
    writeFileSync(join(dir, "foreign.json"), JSON.stringify({ hello: 1 }));
    const old = JSON.parse(readFileSync(direct, "utf8"));
    writeFileSync(join(dir, "v99.json"), JSON.stringify({ ...old, version: 99 }));
    for (const [file, re] of [
      ["corrupt.json", /is not a readable result file/],
      ["foreign.json", /is not a dcpbench result file/],
      ["v99.json", /has result version 99; this dcpbench reads version 1/],
      ["missing.json", /result file not found/],
    ] as const) {
      const res = await cli(["compare", direct, join(dir, file)]);
      assert.equal(res.code, 2, file);
      assert.equal(res.stderr.trim().split("\n").length, 1, res.stderr);
      assert.match(res.stderr, re);
    }
  });

  it("run_workloads.sh runs direct and pooled against the local stack and ends with the compare table", async () => {
    assert.equal(
      (await cli(["init", "flight", "--scale", "0.01", "--uri", stack.status.uris.direct])).code,
      0,
    );
    const out = tmp("dcpbench-rw-");
    const env = {
      ...stack.env,
      WORKLOAD: "flight",
      loops: "15",
      delay: "0",
      batch_size: "8",
      RESULTS_DIR: out,
    };
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        execFile("bash", [RUN_WORKLOADS, "4", "2"], { env, timeout: 120_000 }, (err, so, se) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: so, stderr: se }),
        );
      },
    );
    assert.equal(code, 0, stderr);
    const results = readdirSync(out)
      .filter((f) => f.endsWith(".json"))
      .sort();
    assert.equal(results.length, 2);
    assert.ok(
      readdirSync(out).includes("direct_flight_summary.txt") &&
        readdirSync(out).includes("pooled_flight_summary.txt"),
    );
    const pooledResult = JSON.parse(
      readFileSync(
        join(
          out,
          results.find((f) => f.startsWith("pooled"))!,
        ),
        "utf8",
      ),
    ) as ResultFile;
    assert.equal(pooledResult.plan.txnPooling, true);
    assert.equal(pooledResult.plan.knobs.batch_size, 8);
    assert.equal(pooledResult.summary.__cycle__.count, 30);
    // The seed's client protocol and its -i: each client an even share of the worker's loops.
    assert.equal(pooledResult.plan.queryMode, "psycopg");
    assert.equal(pooledResult.plan.iterationsSplit, "even");
    assert.match(stdout, /== compare \(baseline: direct_flight_/);
    assert.match(stdout, /pooled vs direct/);

    // One mode, the seed's way: TEST_URI, TEST_NAME and the misspelt TXN_POOLONG.
    const single = tmp("dcpbench-rw1-");
    const env1 = {
      ...env,
      RESULTS_DIR: single,
      TEST_URI: stack.status.uris.pooled,
      TEST_NAME: "pooling",
      TXN_POOLONG: "true",
    };
    const one = await new Promise<number>((resolve) =>
      execFile("bash", [RUN_WORKLOADS, "4", "2"], { env: env1, timeout: 120_000 }, (err) =>
        resolve(err ? 1 : 0),
      ),
    );
    assert.equal(one, 0);
    const [file] = readdirSync(single).filter((f) => f.endsWith(".json"));
    const r = JSON.parse(readFileSync(join(single, file), "utf8")) as ResultFile;
    assert.equal(r.label, "pooling");
    assert.equal(r.plan.txnPooling, true);

    // train: every phase on freshly initialised tables, so a phase's changes never reach the next one.
    const trainOut = tmp("dcpbench-rwt-");
    const trainEnv = { ...stack.env, WORKLOAD: "train", SCALE: "0.01", loops: "4", delay: "0" };
    const train = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(
        "bash",
        [RUN_WORKLOADS, "2", "1"],
        { env: { ...trainEnv, RESULTS_DIR: trainOut, TEST_URI: stack.status.uris.direct }, timeout: 120_000 },
        (err, _so, se) => resolve({ code: err ? 1 : 0, stderr: se }),
      ),
    );
    assert.equal(train.code, 0, train.stderr);
    assert.equal(train.stderr.match(/fresh tables/g)?.length, 3, train.stderr);
    assert.equal(readdirSync(trainOut).filter((f) => f.endsWith(".json")).length, 3);
    const db = await stack.client(stack.status.uris.direct);
    const count = async (t: string) => Number((await db.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
    // The jsonb phase added events; the text phase's init dropped and re-created them: back to the seeded 200.
    assert.equal((await count("train_events_jsonb")) + (await count("train_events_jsonb_archive")), 200);
    assert.ok((await count("train_events_text")) + (await count("train_events_text_archive")) > 200);
    await db.end();
  });
});
