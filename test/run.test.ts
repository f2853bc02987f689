import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { allowedCpus } from "../src/runner/cpu-pin.js";
import { childPids, isAlive, processCmdline, sleep } from "../src/stack/system.js";
import { resultIn, runCli, runToResult, startCli } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";
import { CONNECT, CYCLE } from "../src/schema/measures.js";

const outDir = () => mkdtempSync(join(tmpdir(), "dcpbench-out-"));

describe("dcpbench run against the local stack", { timeout: 300_000 }, () => {
  let stack: TestStack;
  const run = (args: string[], env?: NodeJS.ProcessEnv) =>
    runToResult([...args, "--progress", "off"], { env: env ?? stack.env });

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.down();
  });

  it("closed loop, --iterations: every worker runs exactly its cycles", async () => {
    const res = await run(
      ["select1", "--uri", stack.status.uris.direct, "--conns", "6", "--workers", "2"].concat([
        "--iterations",
        "150",
      ]),
    );
    const { result, csv } = res;
    assert.equal(result.summary[CYCLE].count, 300);
    assert.equal(result.summary.select.count, 300);
    assert.equal(result.summary[CONNECT].count, 6);
    assert.equal(result.partial, false);
    assert.equal(result.stopReason, "iterations");
    assert.equal(result.clients.connected, 6);
    assert.deepEqual(
      result.resources.workers.map((w) => w.clients),
      [3, 3],
    );
    assert.ok(result.summary[CYCLE].p50 > 0 && result.summary[CYCLE].p99 >= result.summary[CYCLE].p50);
    assert.match(csv.split("\n")[0], /^seq,t_s,dt_s,ramp,op,count,ops_per_s,errors/);
    assert.ok(result.resources.cpuSec > 0 && result.resources.peakRssMb > 0);
    // The summary table with the seed's columns goes to stdout.
    assert.match(
      res.stdout,
      /elapsed.*id.*threads.*tot_ops.*tot_ops\/s.*mean\(ms\).*p50\(ms\).*p99\(ms\).*max\(ms\)/,
    );
  });

  it("closed loop, --duration: stops on time, timeline per interval, through PgBouncer in transactions", async () => {
    // No --txn-pooling: the stack's pooler URI implies it.
    const res = await runToResult(
      ["select1", "--uri", stack.status.uris.pooled, "--query-mode", "extended"].concat([
        "--set",
        "in_txn=true",
        "--conns",
        "20",
        "--workers",
        "2",
        "--duration",
        "3s",
      ]),
      { env: stack.env },
    );
    // One progress line per interval, cockroach-workload style.
    assert.match(res.stderr, /_elapsed___errors__ops\/s\(inst\)/);
    assert.ok(res.stderr.split("\n").filter((l) => /^\s+\d+\.\ds\s+\d+/.test(l)).length >= 3, res.stderr);
    const { result } = res;
    assert.equal(result.label, "pooled");
    assert.equal(result.plan.txnPooling, true);
    assert.equal(result.stopReason, "duration");
    assert.ok(result.elapsedSec >= 2.9 && result.elapsedSec < 3.6, `elapsed ${result.elapsedSec}`);
    assert.ok(result.timeline.length >= 3);
    assert.equal(result.summary[CYCLE].errors.other, 0);
    assert.ok(result.summary[CYCLE].count > 100);
  });

  it("open loop, --rate: the intended rate is met; latency from the intended start, service time kept", async () => {
    const res = await run([
      "select1",
      "--uri",
      stack.status.uris.direct,
      "--rate",
      "400",
      "--duration",
      "3s",
      "--conns",
      "4",
    ]);
    const { result } = res;
    const cycle = result.summary[CYCLE];
    assert.ok(Math.abs(cycle.count - 1200) <= 60, `count ${cycle.count} for 400/s × 3 s`);
    assert.ok(cycle.service, "service time is recorded in open loop");
    assert.ok(cycle.p50 >= cycle.service!.p50, "latency from the intended start is never below service time");
    assert.equal(result.counters.missed, 0);
  });

  it("--ramp: ramp intervals stay in the timeline and out of the summary", async () => {
    const res = await run([
      "select1",
      "--uri",
      stack.status.uris.direct,
      "--ramp",
      "2s",
      "--duration",
      "2s",
      "--conns",
      "4",
    ]);
    const { result } = res;
    const ramp = result.timeline.filter((e) => e.ramp);
    assert.ok(ramp.length >= 2, "two 1 s intervals of ramp");
    assert.ok(result.elapsedSec >= 1.9 && result.elapsedSec < 2.6, `measured ${result.elapsedSec}`);
    // The summary holds the cycles that started in the window, whichever interval they ended in.
    const inSummary = result.timeline.reduce((n, e) => n + (e.window?.[CYCLE] ?? 0), 0);
    assert.equal(result.summary[CYCLE].count, inSummary);
    assert.ok(result.timeline.filter((e) => !e.ramp).every((e) => e.phase === "window"));
  });

  it("--ramp in open loop raises the rate linearly from 0: a quarter of the ramp's starts in its first half", async () => {
    const args = ["--rate", "400", "--ramp", "2s", "--duration", "2s", "--conns", "4", "--workers", "1"];
    const { result } = await run(["select1", "--uri", stack.status.uris.direct, ...args]);
    const counts = result.timeline.map((e) => e.ops[CYCLE]?.count ?? 0);
    assert.deepEqual(
      result.timeline.slice(0, 2).map((e) => e.ramp),
      [true, true],
    );
    // 400/s reached after 2 s: 100 starts in the first second, 300 in the second, then 400 a second.
    assert.ok(Math.abs(counts[0] - 100) <= 20, `first ramp second: ${counts[0]}`);
    assert.ok(Math.abs(counts[1] - 300) <= 30, `second ramp second: ${counts[1]}`);
    assert.ok(Math.abs(result.summary[CYCLE].count - 800) <= 40, `measured: ${result.summary[CYCLE].count}`);
    assert.equal(result.counters.missed, 0);
  });

  it("--iterations-split even: each client runs its equal share, as the seed's -i; shared lets a fast client run more", async () => {
    const dir = outDir();
    const wl = join(dir, "marks.mjs");
    // Client 0 never thinks; the others think 20 ms: sharing one budget, client 0 takes most of it.
    writeFileSync(
      wl,
      `export default { name: "marks", description: "one row per cycle, by client", knobs: {},
        think: (ctx) => (ctx.clientId === 0 ? 0 : 20),
        cycle: (ctx) => [{ name: "mark", run: (s) => s.query("INSERT INTO split_marks VALUES ($1, $2)", [ctx.clientId, "x"]) }] };\n`,
    );
    const db = await stack.client(stack.status.uris.direct);
    await db.query("CREATE TABLE split_marks (client int, split text)");
    const perClient = async (split: string) => {
      await db.query("TRUNCATE split_marks");
      const res = await run(
        [wl, "--uri", stack.status.uris.direct, "--conns", "4", "--workers", "1"].concat([
          "--iterations",
          "40",
          "--iterations-split",
          split,
        ]),
      );
      assert.equal(res.result.summary.mark.count, 40);
      assert.equal(res.result.plan.iterationsSplit, split);
      const rows = await db.query(
        "SELECT client, count(*)::int AS n FROM split_marks GROUP BY client ORDER BY client",
      );
      return rows.rows.map((r) => r.n as number);
    };
    assert.deepEqual(await perClient("even"), [10, 10, 10, 10]);
    const shared = await perClient("shared");
    assert.ok(shared[0] > 10, `shared: client 0 ran ${shared[0]} of 40`);
    await db.end();
  });

  it("counts skipped ops as skipped, never as latencies", async () => {
    const res = await run(
      [
        "select1",
        "--uri",
        stack.status.uris.direct,
        "--set",
        "skip_pct=50",
        "--iterations",
        "400",
        "--conns",
        "2",
      ].concat(["--workers", "1"]),
    );
    const s = res.result.summary;
    assert.equal(s.select.count + s.select.skipped, 400);
    assert.ok(s.select.skipped > 100 && s.select.skipped < 300, `skipped ${s.select.skipped}`);
  });

  it("SIGINT mid-run writes a complete partial result within 2 s and leaves no worker behind", async () => {
    const out = outDir();
    const cli = startCli(
      [
        "run",
        "select1",
        "--uri",
        stack.status.uris.direct,
        "--duration",
        "60s",
        "--warmup",
        "1s",
        "--conns",
        "4",
        "--workers",
        "2",
      ].concat(["--out", out]),
      stack.env,
    );
    await cli.waitForStderr(/\n\s+3\.0s/);
    const workers = childPids(cli.child.pid!);
    assert.equal(workers.length, 2, "two forked workers");
    const t = Date.now();
    cli.child.kill("SIGINT");
    const res = await cli.done;
    // The promise is 2 s; the margin absorbs a busy shared machine.
    assert.ok(Date.now() - t < 2500, `stopped in ${Date.now() - t} ms`);
    assert.equal(res.code, 130, res.stderr);
    const { result } = resultIn(out);
    assert.equal(result.partial, true);
    assert.equal(result.stopReason, "signal");
    assert.ok(result.timeline.length >= 2);
    assert.ok(result.summary[CYCLE].count > 0);
    await sleep(100);
    for (const pid of workers) assert.equal(isAlive(pid), false, `worker ${pid} left behind`);
  });

  it("SIGTERM to the whole process group (as timeout or a CI runner sends it): workers wait for the runner, exit 143", async () => {
    const out = outDir();
    const cli = startCli(
      [
        "run",
        "select1",
        "--uri",
        stack.status.uris.direct,
        "--duration",
        "60s",
        "--conns",
        "4",
        "--workers",
        "2",
        "--out",
        out,
      ],
      stack.env,
      180_000,
      true,
    );
    await cli.waitForStderr(/\n\s+2\.0s/);
    process.kill(-cli.child.pid!, "SIGTERM");
    const res = await cli.done;
    assert.equal(res.code, 143, res.stderr);
    const { result } = resultIn(out);
    assert.equal(result.partial, true);
    assert.equal(result.stopReason, "signal");
    assert.deepEqual(
      result.resources.workers.map((w) => w.died),
      [false, false],
      "no worker died of the signal",
    );
    assert.ok(result.timeline.length >= 3, "the workers' last interval arrived");
  });

  // With one CPU, an unpinned worker would read the same: nothing to tell apart.
  const cpus = allowedCpus() ?? [];
  it(
    "--pin: each worker, and every thread it starts, keeps to one CPU of the list",
    {
      skip: cpus.length < 2 && "needs two CPUs",
    },
    async () => {
      const pin = [cpus[1], cpus[0]];
      const out = outDir();
      const args = [
        "--rate",
        "200",
        "--duration",
        "3s",
        "--conns",
        "4",
        "--workers",
        "2",
        "--pin",
        pin.join(","),
      ];
      const cli = startCli(
        ["run", "select1", "--uri", stack.status.uris.direct, ...args, "--out", out],
        stack.env,
      );
      await cli.waitForStderr(/\n\s+1\.0s/);
      const workers = childPids(cli.child.pid!);
      assert.equal(workers.length, 2, "two forked workers");
      const seen: number[] = [];
      for (const w of workers) {
        // The open-loop pacing thread is started after the fork: it too must have inherited the pin.
        const threads = readdirSync(`/proc/${w}/task`);
        assert.ok(threads.length > 2, `worker ${w} has its threads (${threads.length})`);
        // (A thread that ends meanwhile has no status left to read.)
        const lists = new Set(
          threads
            .map((t) => allowedCpus(`/proc/${w}/task/${t}/status`)?.join(","))
            .filter((l) => l !== undefined),
        );
        assert.equal(lists.size, 1, `worker ${w}'s threads share one affinity: ${[...lists].join(" | ")}`);
        const [list] = lists;
        assert.match(list, /^\d+$/, `one CPU, not ${list}`);
        seen.push(Number(list));
      }
      // Worker i on pin[i]: one worker on each CPU of the list.
      assert.deepEqual(
        seen.sort((x, y) => x - y),
        [...pin].sort((x, y) => x - y),
      );
      const res = await cli.done;
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(resultIn(out).result.plan.pin, pin);
    },
  );

  it("a worker that dies before it is ready (here: taskset fails) ends the run with one line, exit 1", async () => {
    const bin = outDir();
    writeFileSync(join(bin, "taskset"), '#!/bin/sh\necho "taskset: failed to set affinity" >&2\nexit 1\n');
    chmodSync(join(bin, "taskset"), 0o755);
    const env = { ...stack.env, PATH: `${bin}:${process.env.PATH}` };
    const res = await runCli(
      [
        "run",
        "select1",
        "--uri",
        stack.status.uris.direct,
        "--pin",
        String(cpus[0] ?? 0),
        "--duration",
        "2s",
        "--no-observe",
        "--progress",
        "off",
      ],
      env,
    );
    assert.equal(res.code, 1, res.stderr);
    assert.match(
      res.stderr,
      /taskset: failed to set affinity\ndcpbench: worker 0 exited \(code 1\) before it was ready\n$/,
    );
    assert.doesNotMatch(res.stderr, /\n\s+at /);
  });

  it("kill -9 of one worker: the other finishes, the result is partial, exit 1", async () => {
    const out = outDir();
    const cli = startCli(
      [
        "run",
        "select1",
        "--uri",
        stack.status.uris.direct,
        "--duration",
        "4s",
        "--conns",
        "4",
        "--workers",
        "2",
      ].concat(["--out", out]),
      stack.env,
    );
    await cli.waitForStderr(/\n\s+1\.0s/);
    const [victim] = childPids(cli.child.pid!);
    process.kill(victim, "SIGKILL");
    const res = await cli.done;
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /worker \d died \(SIGKILL\)/);
    const { result } = resultIn(out);
    assert.equal(result.partial, true);
    assert.equal(result.stopReason, "worker-died");
    assert.equal(result.resources.workers.filter((w) => w.died).length, 1);
    const late = result.timeline.filter((e) => e.t > 2.5);
    assert.ok(
      late.some((e) => (e.ops[CYCLE]?.count ?? 0) > 0),
      "the surviving worker kept measuring",
    );
  });

  it("never shows or saves the password: stdout, stderr, JSON, CSV, worker command lines", async () => {
    const out = outDir();
    const uriWithPassword = stack.status.uris.direct.replace("dcpbench@", `dcpbench:${stack.password}@`);
    // The password reaches dcpbench in PGURI, so that nobody's argv holds it.
    const env = { ...stack.env, PGURI: uriWithPassword, PGPASSFILE: "/nonexistent" };
    const cli = startCli(
      ["run", "select1", "--duration", "3s", "--conns", "2", "--workers", "2", "--out", out],
      env,
    );
    await cli.waitForStderr(/\n\s+1\.0s/);
    const cmdlines = [cli.child.pid!, ...childPids(cli.child.pid!)].map(processCmdline);
    assert.equal(cmdlines.length, 3);
    const res = await cli.done;
    assert.equal(res.code, 0, res.stderr);
    const { json, csv, jsonPath } = resultIn(out);
    const html = join(out, "report.html");
    assert.equal((await runCli(["report", jsonPath, "--html", html], env)).code, 0);
    const page = readFileSync(html, "utf8");
    for (const [where, text] of Object.entries({
      stdout: res.stdout,
      stderr: res.stderr,
      json,
      csv,
      cmdlines: cmdlines.join("\n"),
      html: page,
    })) {
      assert.ok(!text.includes(stack.password), `password found in ${where}`);
    }
    assert.match(res.stdout, /dcpbench:\*\*\*@127\.0\.0\.1/);
    // The samplers log in with the URI's password too (it is in no pgpass file), and keep it as quiet.
    assert.doesNotMatch(res.stderr, /sampler off|not measured/);
    assert.match(res.stderr, /srv_cpu=\d+%/);
  });

  it("bad input: one line, exit 2, no stack trace", async () => {
    const aFile = join(outDir(), "not-a-dir");
    writeFileSync(aFile, "");
    const cases: Array<[string[], RegExp]> = [
      [["run", "nosuch"], /unknown workload 'nosuch'/],
      [["run", "select1", "--set", "bogus=1"], /unknown knob 'bogus'/],
      [["run", "select1", "--conns", "0"], /--conns must be a positive integer/],
      [["run", "select1", "--workers", "2", "--workers", "1"], /--workers is given twice: give it once/],
      [["run", "select1", "--conns", "2", "--workers", "3"], /--workers \(3\) cannot exceed --conns \(2\)/],
      [["run", "select1", "--duration", "soon"], /not a duration/],
      [["run", "select1", "--uri", "not a uri"], /not a valid URI/],
      [
        ["run", "select1", "--uri", "postgresql://bob:s3cret@/db?host=/run/postgresql"],
        /--uri: a user name with no host \(postgresql:\/\/…\); for a Unix socket write postgresql:\/\/\/db\?host=/,
      ],
      [
        ["run", "select1", "--uri", "host=db user=u password=s3cret-kv"],
        /^dcpbench: --uri: not a valid URI; expected postgresql:\/\/user:password@host:port\/db, where reserved .* percent-encoded/,
      ],
      [
        ["run", "select1", "--uri", "postgresql://dcpbench:wrong@127.0.0.1:1/x"],
        /cannot connect to .*:\*\*\*@/,
      ],
      [
        ["run", "select1", "--uri", stack.status.uris.direct.replace("dcpbench@", "dcpbench:wrong@")],
        /cannot log in/,
      ],
      [["run", "select1", "--conns", "100000", "--workers", "1"], /open-file limit is \d+/],
      [["run", "select1", "--out", "/proc/forbidden"], /--out \/proc\/forbidden is not a writable directory/],
      [["run", "select1", "--pin", "0-1x"], /--pin: '0-1x' is not a list of CPUs/],
      [["run", "select1", "--set", "__proto__=1"], /unknown knob '__proto__' for workload select1/],
      [["run", "select1", "--args", '{"__proto__": {"x": 1}}'], /unknown knob '__proto__'/],
      [["run", "select1", "--set", "constructor=1"], /unknown knob 'constructor'/],
      [["run", "select1", "--out", aFile], /--out \S+ is a file, not a directory/],
      [
        ["run", "select1", "--threshold", "nosuch.p99<1s"],
        /--threshold 'nosuch.p99<1s': workload select1 has no op 'nosuch'/,
      ],
      [["run", "select1", "--threshold", "__lag__.p99<1s"], /has no op '__lag__'/],
      [
        ["run", "select1", "--duration", "2s", "--stack-dir", stack.dir, "--fault", "at=5s kill pgbouncer-1"],
        /--fault 'at=5s kill pgbouncer-1' is at 5s, not before the run's planned end \(2s/,
      ],
      [
        ["run", "flight"],
        /workload flight is not initialised here \(no table flights\): run 'dcpbench init flight/,
      ],
      [["run", "select1", "--pin", "4095"], /--pin: CPU 4095 is not one this process may run on/],
    ];
    for (const [args, re] of cases) {
      // --iterations 1: should a check ever let a bad input through, the run still ends.
      const res = await runCli([...args, "--iterations", "1"], stack.env, 30_000);
      assert.equal(res.code, 2, `${args.join(" ")}: ${res.stderr}`);
      const lines = res.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `${args.join(" ")}: ${res.stderr}`);
      assert.match(lines[0], re);
      assert.doesNotMatch(res.stderr, /\n\s+at /);
      assert.doesNotMatch(res.stderr, /s3cret/, "no password");
    }
    const split = await runCli(
      ["run", "select1", "--iterations-split", "even", "--duration", "1s"],
      stack.env,
    );
    assert.equal(split.code, 2, split.stderr);
    assert.equal(split.stderr.trim(), "dcpbench: --iterations-split needs --iterations");
  });

  it("reads the stack's password file the way libpq does (PGPASSFILE) and runs without --uri", async () => {
    const res = await run(["select1", "--iterations", "10", "--conns", "1"]);
    assert.equal(res.result.plan.uri, stack.status.uris.direct);
    assert.equal(readFileSync(stack.status.pgpassfile, "utf8").split(":")[3], "dcpbench");
  });
});
