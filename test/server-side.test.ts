import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pidListeningOn, postmasterOf, procUsage } from "../src/observe/proc-usage.js";
import type { ResultFile } from "../src/schema/result.js";
import { runCli, runToResult } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";

const ROWS = [
  "server CPU per transaction",
  "server \\+ pooler CPU per transaction",
  "server CPU %",
  "server memory",
  "statement time \\(mean\\)",
  "commits/s",
  "connections opened/s",
  "lock waits",
  "LWLock waits",
  "WAL bytes per transaction",
  "WAL sync \\(mean\\)",
  "PgBouncer CPU %",
];

describe("what the database paid: server-side figures per run", { timeout: 300_000 }, () => {
  let stack: TestStack;
  let direct: { result: ResultFile; jsonPath: string };
  let pooled: { result: ResultFile; jsonPath: string };
  const flight = (uri: string, extra: string[]) =>
    runToResult(
      ["flight", "--uri", uri, "--conns", "256", "--workers", "2", "--duration", "4s"].concat(extra),
      {
        env: stack.env,
      },
    );

  before(async () => {
    stack = await startStack();
    const init = await runCli(
      ["init", "flight", "--scale", "0.01", "--uri", stack.status.uris.direct],
      stack.env,
    );
    assert.equal(init.code, 0, init.stderr);
    direct = await flight(stack.status.uris.direct, ["--progress", "1s"]);
    pooled = await flight(stack.status.uris.pooled, ["--txn-pooling", "--progress", "off"]);
  });
  after(async () => {
    await stack?.down();
  });

  it("both runs carry serverSide; every figure this local PostgreSQL can give is a number", () => {
    for (const { result } of [direct, pooled]) {
      const s = result.serverSide;
      assert.ok(s, `${result.label}: serverSide`);
      assert.deepEqual(s.missing, {}, `${result.label}: nothing missing on the local stack`);
      for (const k of [
        "cpuSec",
        "cpuPerTxnMs",
        "memoryMb",
        "statementMeanMs",
        "commitsPerSec",
        "walBytesPerTxn",
      ] as const)
        assert.ok(
          typeof s.summary[k] === "number" && s.summary[k]! > 0,
          `${result.label} ${k}: ${s.summary[k]}`,
        );
      assert.equal(typeof s.summary.sessionsOpenedPerSec, "number");
      assert.ok(s.intervals.length >= 2, "per-interval series");
      // The run's statements, not the samplers': flight's UPDATEs lead.
      assert.match(s.topStatements[0].query, /^UPDATE (flight_status|seat_inventory|flights|flight_prices)/);
      assert.ok(
        s.topStatements.every((t) => !/pg_stat_/.test(t.query)),
        "the samplers' own statements are left out",
      );
    }
    // Server CPU per cycle × the cycles of the server's window is the CPU over it. The two windows differ by
    // when their timers fired (much on a loaded machine), so the cycles are the client's rate over the server's.
    const s = direct.result.serverSide!.summary;
    const cycles =
      (direct.result.summary.__cycle__.count / direct.result.elapsedSec) *
      direct.result.serverSide!.windowSec;
    assert.ok(Math.abs((s.cpuPerTxnMs! * cycles) / 1000 - s.cpuSec!) < 0.01 * s.cpuSec! + 0.01);
  });

  it("256 backends held directly cost the server more memory than the pool's 64; the pooled run shows PgBouncer's CPU", () => {
    assert.ok(
      direct.result.serverSide!.summary.memoryMb! > pooled.result.serverSide!.summary.memoryMb!,
      `direct ${direct.result.serverSide!.summary.memoryMb} MB vs pooled ${pooled.result.serverSide!.summary.memoryMb} MB`,
    );
    assert.deepEqual(direct.result.serverSide!.poolers, []);
    const bouncer = pooled.result.serverSide!.poolers.find((p) => p.member === "pgbouncer-1");
    assert.ok(bouncer && bouncer.cpuSec! > 0, JSON.stringify(pooled.result.serverSide!.poolers));
  });

  it("the progress line shows server CPU and commits/s; the timeline has them per interval", () => {
    const entry = direct.result.timeline.find((e) => e.observed?.srv_cpu_pct !== undefined);
    assert.ok(entry, "srv_cpu_pct in the timeline");
    assert.ok(entry.observed!.srv_commits_s! >= 0);
  });

  it("pooler-bound: a PgBouncer at 90% of its one core or more is named by the run, compare (and its gate) and the report", async () => {
    // As measured: the list holds exactly the PgBouncers at or above 90% of a core.
    for (const { result } of [direct, pooled]) {
      const s = result.serverSide!;
      const expected = s.poolers
        .filter((p) => p.member.startsWith("pgbouncer") && p.cpuPct !== null && p.cpuPct >= 90)
        .map((p) => p.member);
      assert.deepEqual(
        (s.poolerBound ?? []).map((b) => b.member),
        expected,
        JSON.stringify(s.poolers),
      );
    }
    // A pooled run whose PgBouncer was saturated (this 2-core host cannot be trusted to saturate one on cue).
    const saturated = JSON.parse(readFileSync(pooled.jsonPath, "utf8")) as ResultFile;
    saturated.label = "saturated";
    saturated.serverSide!.poolers = saturated.serverSide!.poolers.map((p) =>
      p.member === "pgbouncer-1" ? { ...p, cpuPct: 97.4 } : p,
    );
    saturated.serverSide!.poolerBound = [{ member: "pgbouncer-1", cpuPct: 97.4 }];
    const path = join(mkdtempSync(join(tmpdir(), "dcpbench-bound-")), "saturated.json");
    writeFileSync(path, JSON.stringify(saturated));
    const note = /saturated: pooler-bound: pgbouncer-1 used 97% of a core over the window/;
    const cmp = await runCli(["compare", direct.jsonPath, path], stack.env);
    assert.equal(cmp.code, 0, cmp.stderr);
    assert.match(cmp.stderr, note);
    const gate = await runCli(["compare", direct.jsonPath, path, "--fail-if", "pooler-bound"], stack.env);
    assert.equal(gate.code, 3, gate.stdout + gate.stderr);
    assert.match(gate.stderr, /FAIL pooler-bound: saturated: pooler-bound: pgbouncer-1/);
    const clean = await runCli(
      ["compare", direct.jsonPath, pooled.jsonPath, "--fail-if", "pooler-bound"],
      stack.env,
    );
    assert.equal(
      clean.code,
      pooled.result.serverSide!.poolerBound?.length ? 3 : 0,
      clean.stdout + clean.stderr,
    );
    const html = join(mkdtempSync(join(tmpdir(), "dcpbench-bound-")), "report.html");
    const rep = await runCli(["report", direct.jsonPath, path, "--html", html], stack.env);
    assert.equal(rep.code, 0, rep.stderr);
    assert.match(readFileSync(html, "utf8"), note);
  });

  it("compare shows the server side block; --fail-if gates on it", async () => {
    const res = await runCli(["compare", direct.jsonPath, pooled.jsonPath], stack.env);
    assert.equal(res.code, 0, res.stderr);
    for (const row of ROWS) assert.match(res.stdout, new RegExp(`│ ${row} `), `row ${row}`);
    const gate = await runCli(
      ["compare", direct.jsonPath, pooled.jsonPath, "--fail-if", "server.memoryMb<-10%"],
      stack.env,
    );
    assert.equal(gate.code, 3, gate.stdout + gate.stderr);
    assert.match(gate.stdout + gate.stderr, /server memory -\d+\.\d% \(pooled vs direct\)/);
    const ok = await runCli(
      ["compare", direct.jsonPath, pooled.jsonPath, "--fail-if", "server.memoryMb>+10%"],
      stack.env,
    );
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const bad = await runCli(
      ["compare", direct.jsonPath, pooled.jsonPath, "--fail-if", "server.nosuch>+1%"],
      stack.env,
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown server figure 'nosuch'/);
  });

  it("the HTML report lays the figures out side by side, each with its course over the run, and the top statements", async () => {
    const html = join(mkdtempSync(join(tmpdir(), "dcpbench-srv-rep-")), "report.html");
    const res = await runCli(["report", direct.jsonPath, pooled.jsonPath, "--html", html], stack.env);
    assert.equal(res.code, 0, res.stderr);
    const page = readFileSync(html, "utf8");
    const side = /<table id="server-side">([\s\S]*?)<\/table>/.exec(page)?.[1];
    assert.ok(side, "the side-by-side table");
    for (const name of [
      "server CPU",
      "server memory \\(PSS\\)",
      "statement time \\(mean\\)",
      "commits/s",
      "lock waits",
    ])
      assert.match(side, new RegExp(`<th class="name">${name}</th>`), name);
    // Two runs: two cells per row, and the series drawn in them.
    assert.ok((side.match(/<polyline /g) ?? []).length >= 8, "sparklines in the cells");
    assert.match(
      page,
      /<table id="top-statements">[\s\S]*UPDATE (flight_status|seat_inventory|flights|flight_prices)/,
    );
  });

  it("a database without pg_stat_statements: one line, the run goes on, the figure is null with its reason", async () => {
    // The stack creates the extension in its own database only.
    const other = stack.status.uris.direct.replace(/\/dcpbench$/, "/postgres");
    const { result, stderr } = await runToResult(
      ["select1", "--uri", other, "--conns", "2", "--duration", "2s", "--progress", "off"],
      { env: stack.env },
    );
    assert.match(
      stderr,
      /statement times not measured: pg_stat_statements is not installed in this database/,
    );
    const s = result.serverSide!;
    assert.equal(s.summary.statementMeanMs, null);
    assert.match(s.missing.statementMeanMs!, /CREATE EXTENSION pg_stat_statements/);
    assert.ok(s.summary.commitsPerSec! > 0, "the rest is measured");
  });

  it("a local PostgreSQL that is not the stack: its postmaster is the parent of the sampler's own backend", async () => {
    const recorded = Number(
      readFileSync(join(stack.dir, "postgres", "data", "postmaster.pid"), "utf8").split("\n")[0],
    );
    const client = await stack.client(stack.status.uris.direct);
    const { rows } = await client.query(
      "SELECT pg_backend_pid() AS pid, extract(epoch FROM pg_postmaster_start_time()) AS started",
    );
    const [backend, started] = [Number(rows[0].pid), Number(rows[0].started)];
    assert.equal(postmasterOf(backend, started), recorded);
    assert.match(String(postmasterOf(process.pid, started)), /is not a postgres process of this host/);
    // The same pids, but a server that started at another time: a container's, not this one.
    assert.match(String(postmasterOf(backend, started - 3600)), /did not start when the server did/);
    // No stack where dcpbench looks for one: the URI alone says "this host".
    const env = { ...stack.env, DCPBENCH_STACK_DIR: mkdtempSync(join(tmpdir(), "dcpbench-nostack-")) };
    const { result } = await runToResult(
      ["select1", "--uri", stack.status.uris.direct, "--conns", "2", "--duration", "2s", "--progress", "off"],
      { env },
    );
    const s = result.serverSide!;
    assert.ok(s.summary.cpuSec! > 0 && s.summary.memoryMb! > 0, JSON.stringify(s.missing));
    assert.equal(s.missing.cpuSec, undefined);
  });

  it("/proc: the stack's postmaster is found by its port; its CPU, PSS and backends are read", () => {
    const port = Number(new URL(stack.status.uris.direct).port);
    const pid = pidListeningOn(port);
    const recorded = Number(
      readFileSync(join(stack.dir, "postgres", "data", "postmaster.pid"), "utf8").split("\n")[0],
    );
    assert.equal(pid, recorded);
    const u = procUsage(pid!, 4)!;
    assert.ok(u.cpuSec > 0 && u.pssMb! > 0 && u.processes > 3, JSON.stringify(u));
  });
});
