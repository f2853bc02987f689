import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { readResult } from "../src/results/io/read.js";
import { readSweepIndex } from "../src/results/sweeps/index-file.js";
import { schemaError } from "../src/results/io/validate.js";
import type { SweepIndex } from "../src/schema/sweep.js";
import { launchChromium, openFile } from "./helpers/browser.js";
import { runCli, startCli } from "./helpers/cli.js";
import { freePortBase, startStack, type TestStack } from "./helpers/stack.js";

const tmp = () => mkdtempSync(join(tmpdir(), "dcpbench-sweep-"));

function indexIn(dir: string): { path: string; index: SweepIndex } {
  const files = readdirSync(dir).filter((f) => /^sweep_.*\.json$/.test(f));
  assert.equal(files.length, 1, `one sweep index in ${dir}: ${files.join(", ")}`);
  const path = join(dir, files[0]);
  // Held to the published schema as written, unknown fields included (reading would drop them).
  const departs = schemaError(JSON.parse(readFileSync(path, "utf8")), "sweep");
  assert.equal(departs, undefined, `${path} departs from schemas/sweep.schema.json: ${departs}`);
  return { path, index: readSweepIndex(path) };
}

const finished = (index: SweepIndex) => index.points.filter((p) => p.file !== null && !p.partial);

describe("dcpbench sweep against the local stack", { timeout: 600_000 }, () => {
  let stack: TestStack;
  let browser: Browser | undefined;
  const cli = (args: string[]) => runCli(args, stack.env, 300_000);
  const quick = ["--duration", "2s", "--progress", "off", "--pause", "500ms"];

  before(async () => {
    stack = await startStack();
    const init = await cli(["init", "tpcb", "--scale", "1", "--uri", stack.status.uris.direct]);
    assert.equal(init.code, 0, init.stderr);
  });
  after(async () => {
    await browser?.close();
    await stack?.down();
  });

  it("tpcb at 4, 64, 256 clients, direct and pooled: 6 ordinary results, an index, the table, a crossover line, and an offline report", async () => {
    const out = tmp();
    const args = ["sweep", "tpcb", "--set", "script=select-only", "--conns", "4,64,256", "--repeat", "1"];
    const res = await cli([...args, ...quick, "--out", out]);
    assert.equal(res.code, 0, res.stderr);
    const { path, index } = indexIn(out);
    assert.equal(index.complete, true);
    assert.deepEqual(
      index.points.map((p) => `${p.target}@${p.conns}`),
      ["direct@4", "pooled@4", "direct@64", "pooled@64", "direct@256", "pooled@256"],
    );
    const results = readdirSync(out).filter((f) => f.endsWith(".json") && !f.startsWith("sweep_"));
    assert.equal(results.length, 6);
    for (const p of index.points) {
      const r = readResult(join(out, p.file!));
      assert.equal(r.plan.conns, p.conns);
      assert.equal(r.plan.txnPooling, p.target === "pooled");
      assert.equal(r.clients.connected, p.conns);
      assert.ok(r.summary.__cycle__.count > 0);
    }
    assert.match(res.stdout, /│\s+256 │ pooled │\s+1 │/);
    assert.match(res.stdout, /^crossover, throughput \(pooled vs direct\): /m);
    assert.match(res.stdout, /^crossover, p99 \(pooled vs direct\): /m);
    assert.match(res.stdout, /one run at some points: .* nothing is claimed/);
    assert.match(res.stderr, /sweep: point 6 of 6: pooled-c256-r1/);
    assert.doesNotMatch(res.stdout + res.stderr + readFileSync(path, "utf8"), new RegExp(stack.password));

    const html = join(out, "sweep.html");
    const rep = await cli(["report", path, "--html", html]);
    assert.equal(rep.code, 0, rep.stderr);
    browser = await launchChromium();
    const opened = await openFile(browser, html);
    assert.deepEqual(opened.requests, [], "the page loads nothing");
    assert.deepEqual([...opened.consoleErrors, ...opened.pageErrors], []);
    const charts = await opened.page.$$eval("svg.chart", (svgs) =>
      svgs.map((s) => ({
        metric: s.getAttribute("data-metric"),
        series: s.querySelectorAll("g.series polyline.median").length,
        dots: s.querySelectorAll("g.series circle").length,
      })),
    );
    const throughput = charts.find((c) => c.metric === "throughput");
    assert.deepEqual(throughput, { metric: "throughput", series: 2, dots: 6 });
    assert.ok(
      charts.some((c) => c.metric === "cpuPerTxnMs" && c.series === 2),
      "server CPU per txn drawn",
    );
    const rows = await opened.page.$$eval("tbody tr", (trs) => trs.length);
    assert.equal(rows, 6);
    assert.match((await opened.page.textContent("ul.lines")) ?? "", /crossover, throughput/);
  });

  it("Ctrl-C keeps the points done and the index; --resume runs only the rest", async () => {
    const out = tmp();
    const args = [
      "sweep",
      "tpcb",
      "--set",
      "script=select-only",
      "--conns",
      "2,4",
      "--repeat",
      "1",
      "--out",
      out,
    ];
    const first = startCli([...args, "--duration", "4s", "--progress", "off", "--pause", "500ms"], stack.env);
    await first.waitForStderr(/sweep: point 2 of 4/);
    await first.waitForStderr(/dcpbench run tpcb \[pooled-c2-r1\]/);
    first.child.kill("SIGINT");
    const res = await first.done;
    assert.equal(res.code, 130, res.stderr);
    assert.match(
      res.stderr,
      /sweep interrupted after 1 of 4 points; continue it with the same options and --resume /,
    );
    const { path, index } = indexIn(out);
    assert.equal(index.complete, false);
    assert.deepEqual(
      finished(index).map((p) => p.target + p.conns),
      ["direct2"],
    );
    const cut = index.points.find((p) => p.target === "pooled");
    assert.equal(cut?.partial, true, "the interrupted point is kept, marked partial");
    const firstFile = finished(index)[0].file;

    const wrong = await cli([...args, "--duration", "5s", "--resume", path]);
    assert.equal(wrong.code, 2);
    assert.match(
      wrong.stderr,
      /^dcpbench: --resume .*differs from the index in durationMs \(4000 in the index, 5000 now\)/,
    );

    const again = await cli([
      ...args,
      "--duration",
      "4s",
      "--progress",
      "off",
      "--pause",
      "500ms",
      "--resume",
      path,
    ]);
    assert.equal(again.code, 0, again.stderr);
    const started = [...again.stderr.matchAll(/sweep: point (\d) of 4: (\S+)/g)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    assert.deepEqual(started, ["2 pooled-c2-r1", "3 direct-c4-r1", "4 pooled-c4-r1"]);
    const done = readSweepIndex(path);
    assert.equal(done.complete, true);
    assert.equal(finished(done).length, 4);
    assert.equal(done.points.length, 4, "the partial point was replaced, not added");
    assert.equal(finished(done)[0].file, firstFile);
  });

  it("--pool-size sets PgBouncer's pool between points (reload) and restores it after", async () => {
    const out = tmp();
    const bouncerPid = readFileSync(join(stack.dir, "pgbouncer-1", "pgbouncer.pid"), "utf8").trim();
    const res = await cli([
      "sweep",
      "tpcb",
      "--set",
      "script=select-only",
      "--conns",
      "16",
      "--pool-size",
      "2,4",
      "--repeat",
      "1",
      ...quick,
      "--out",
      out,
    ]);
    assert.equal(res.code, 0, res.stderr);
    const { index } = indexIn(out);
    assert.equal(
      readFileSync(join(stack.dir, "pgbouncer-1", "pgbouncer.pid"), "utf8").trim(),
      bouncerPid,
      "reloaded, not restarted",
    );
    const sessions = Object.fromEntries(
      index.points.map((p) => [
        `${p.target}${p.poolSize ?? ""}`,
        readResult(join(out, p.file!)).observed!.series.db_sessions.max,
      ]),
    );
    assert.ok(sessions.pooled2 <= 2, `pool 2: ${sessions.pooled2} server sessions`);
    assert.ok(sessions.pooled4 <= 4 && sessions.pooled4 > 2, `pool 4: ${sessions.pooled4} server sessions`);
    assert.ok(sessions.direct >= 16, `direct: ${sessions.direct}`);
    assert.match(res.stdout, /│\s+16 │ pooled \(pool 2\) │/);
    const cfg = JSON.parse(readFileSync(join(stack.dir, "stack.json"), "utf8")) as { poolSize: number };
    assert.equal(cfg.poolSize, 64);
    assert.match(
      readFileSync(join(stack.dir, "pgbouncer-1", "pgbouncer.ini"), "utf8"),
      /^default_pool_size = 64$/m,
    );
  });

  it("--reinit: every point starts from the tables init made (tpcb-like's history holds only the last point's)", async () => {
    const out = tmp();
    const direct = stack.status.uris.direct;
    const res = await cli([
      "sweep",
      "tpcb",
      "--target",
      `direct=${direct}`,
      "--conns",
      "2,4",
      "--repeat",
      "1",
      "--reinit",
      ...quick,
      "--out",
      out,
    ]);
    assert.equal(res.code, 0, res.stderr);
    const { index } = indexIn(out);
    const results = index.points.map((p) => readResult(join(out, p.file!)));
    const counts = results.map((r) => r.summary.__cycle__.count);
    // Cycles that started after the last point's window (the load goes on while its last cycles drain).
    const after = results[1].timeline.reduce(
      (n, e) => n + (e.ops.__cycle__?.count ?? 0) - (e.window?.__cycle__ ?? 0),
      0,
    );
    const client = await stack.client(direct);
    const history = Number((await client.query("SELECT count(*) AS n FROM pgbench_history")).rows[0].n);
    // Each cycle inserts one history row: the window's, those after it, and at most one more per client (cut).
    assert.ok(
      history >= counts[1] + after && history <= counts[1] + after + 4,
      `history ${history}, points ${counts.join(", ")}, ${after} after the window`,
    );
    assert.ok(counts[0] > 4, "the first point's rows were dropped, not kept");
  });

  it("explicit targets need no local stack; a --fail-if gate that holds exits 3", async () => {
    const out = tmp();
    const env = { ...stack.env, DCPBENCH_STACK_DIR: tmp() };
    const res = await runCli(
      [
        "sweep",
        "tpcb",
        "--set",
        "script=select-only",
        "--target",
        `a=${stack.status.uris.direct}`,
        "--target",
        `b=${stack.status.uris.direct}`,
        "--conns",
        "2",
        "--repeat",
        "1",
        "--fail-if",
        "a.errors@2>=0",
        ...quick,
        "--out",
        out,
      ],
      env,
      300_000,
    );
    assert.equal(res.code, 3, res.stderr);
    assert.match(res.stderr, /FAIL a\.errors@2>=0: a errors 0 >= 0/);
    assert.match(res.stdout, /crossover, throughput \(b vs a\): no clear winner at 2 clients/);
  });

  it("--prometheus-port: each point serves its live metrics on the port in turn, labelled with the point", async () => {
    const port = (await freePortBase()) + 5;
    const sweep = startCli(
      ["sweep", "select1", "--set", "sleep_ms=5", "--conns", "2", "--repeat", "1", "--duration", "3s"].concat(
        ["--progress", "off", "--pause", "500ms", "--prometheus-port", String(port), "--out", tmp()],
      ),
      stack.env,
      300_000,
    );
    let finished = false;
    const done = sweep.done.finally(() => (finished = true));
    const seen = new Set<string>();
    while (!finished) {
      const text = await fetch(`http://127.0.0.1:${port}/metrics`)
        .then((r) => r.text())
        .catch(() => "");
      for (const [, run] of text.matchAll(
        /^dcpbench_latency_seconds_count\{run="([^"]+)",op="__cycle__"\} [1-9]/gm,
      ))
        seen.add(run);
      await new Promise((r) => setTimeout(r, 200));
    }
    const res = await done;
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual([...seen].map((run) => run.replace(/^.*(direct|pooled)/, "$1")).sort(), [
      "direct-c2-r1",
      "pooled-c2-r1",
    ]);
  });

  it("bad input: one line, exit 2, before anything runs", async () => {
    const direct = stack.status.uris.direct;
    const cases: Array<[string[], RegExp]> = [
      [["--target", "nouri"], /--target 'nouri': no NAME=/],
      [["--target", `d=${direct}`, "--target", `d=${direct}`], /the name 'd' is given twice/],
      [["--conns", "8,64,8"], /--conns: 8 is given twice/],
      [["--conns", "8,100000"], /--conns 100000 over \d+ workers needs ~\d+ open files per worker/],
      [
        [
          "--target",
          `d=${direct}`,
          "--target",
          "p=postgresql://u@db.example:6432/x,txn-pooling",
          "--pool-size",
          "8",
        ],
        /target 'p' .* is not the stack's pooler/,
      ],
      [["--pool-size", "8", "--target", `d=${direct}`], /--pool-size needs a target marked ,txn-pooling/],
      [["--fail-if", "pooled.throughput@999<direct"], /no point at 999 clients/],
      [["--repeat", "0"], /--repeat must be a positive integer/],
    ];
    for (const [extra, re] of cases) {
      const res = await cli(["sweep", "tpcb", "--out", tmp(), ...extra]);
      assert.equal(res.code, 2, `${extra.join(" ")}: ${res.stderr}`);
      assert.match(res.stderr, re);
      assert.equal(res.stderr.trim().split("\n").length, 1, res.stderr);
      assert.doesNotMatch(res.stderr, /sweep: point/);
    }
  });
});
