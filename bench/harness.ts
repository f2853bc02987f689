/**
 * The harness-efficiency benchmark (issue 7): dcpbench against pgbench on the same database, interleaved,
 * and the harness's own costs at the seed's sizes. One command runs it all and writes a Markdown report:
 *
 *   npm run bench                 # full size, writes BENCHMARKS.md (about 24 minutes)
 *   npm run bench -- --quick --out /tmp/b.md   # tiny sizes, for the test suite
 *
 * Everything runs against a stack of its own (temp dir, free ports), started and stopped here.
 */
import { execFileSync, spawn } from "node:child_process";
import { cpus, totalmem, release } from "node:os";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decode } from "../src/metrics/histogram.js";
import {
  BIN_FLAGS,
  CLI,
  commit,
  cpuTicks,
  freeBase,
  keptSection,
  median,
  quantile,
  MERGE_BEGIN,
  MERGE_END,
  SERVER_SIDE_BEGIN,
  SERVER_SIDE_END,
  stealShare,
  SWEEP_BEGIN,
  SWEEP_END,
  benchStack,
} from "./util.js";
import { allowedCpus, findTaskset } from "../src/runner/cpu-pin.js";
import { stackDown } from "../src/stack/stack.js";
import { pgProgram } from "../src/stack/system.js";
import type { ResultFile } from "../src/schema/result.js";

/** pgbench's -T includes its connects: this much longer, and its log cut to the span measured. */
const PGBENCH_CONNECT_SEC = 5;
const args = process.argv.slice(2);
const quick = args.includes("--quick");
/** Hand-written notes on the measurements behind choices in the code, kept across re-measurements. */
const CODE_CHOICES = fileURLToPath(new URL("../../bench/code-choices.md", import.meta.url));
const outFile = args.includes("--out") ? args[args.indexOf("--out") + 1] : "BENCHMARKS.md";

/** Sizes: the issue's targets, or tiny ones that only prove the machinery works. */
const S = quick
  ? {
      pairSec: 1,
      pairs: 1,
      overheadConns: 64,
      overheadSec: 2,
      scaleConns: 200,
      scaleSec: 2,
      paceRate: 500,
      paceSec: 2,
      agreeRates: [200, 400],
      connPairs: 1,
      connSec: 1,
      agreeSec: 2,
      tailPairs: 1,
      agreePairs: 1,
      tailRampSec: 1,
      tpcbScale: 1,
    }
  : {
      pairSec: 10,
      pairs: 5,
      overheadConns: 1024,
      overheadSec: 60,
      scaleConns: 10_000,
      scaleSec: 60,
      paceRate: 5000,
      paceSec: 30,
      agreeRates: [1000, 5000],
      connPairs: 3,
      connSec: 8,
      agreeSec: 30,
      tailPairs: 3,
      agreePairs: 3,
      tailRampSec: 2,
      tpcbScale: 10,
    };

interface Timed {
  stdout: string;
  stderr: string;
  code: number;
  /** CPU seconds of the command and all its children (bash's `times`). */
  cpuSec: number;
}

/** Runs a command under bash and reports the CPU its whole process tree used. */
function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  const quoted = [cmd, ...argv].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", `${quoted}; rc=$?; times >&2; exit $rc`], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("error", reject);
    child.once("exit", (code) => {
      // `times` prints two lines: the shell's, then its children's (user and system).
      const lines = stderr.trim().split("\n");
      const children = lines[lines.length - 1].split(/\s+/).map((t) => {
        const m = /(\d+)m([\d.]+)s/.exec(t);
        return m ? Number(m[1]) * 60 + Number(m[2]) : 0;
      });
      resolve({
        stdout,
        stderr: lines.slice(0, -2).join("\n"),
        code: code ?? 1,
        cpuSec: children[0] + children[1],
      });
    });
  });
}

const lines: string[] = [];
const say = (s = "") => {
  lines.push(s);
  process.stderr.write(s + "\n");
};

/** What every section of the bench runs with: the stack's URIs and the two tools, as main sets them up. */
interface Bench {
  env: NodeJS.ProcessEnv;
  direct: string;
  pooled: string;
  pgbench: string;
  dcp: (argv: string[]) => Promise<{ r: ResultFile; t: Timed }>;
  selectOnly: (extra: string[]) => string[];
  pgbenchLog: (argv: string[], skipSec: number, measureSec: number, cpu?: number) => Promise<string[][]>;
}

/** 1. The ceiling: select-only, 8 clients, one process/thread each side, interleaved A B A B … */
async function ceiling({ env, direct, pgbench, dcp, selectOnly }: Bench): Promise<void> {
  say(`## 1. Ceiling: tpcb select-only, 8 clients, direct, scale ${S.tpcbScale}`);
  say();
  const init = await timed(
    process.execPath,
    [CLI, "init", "tpcb", "--scale", String(S.tpcbScale), "--drop", "--uri", direct],
    env,
  );
  if (init.code !== 0) throw new Error(`init tpcb: ${init.stderr}`);
  say(
    `Interleaved, ${S.pairSec} s each: \`dcpbench run tpcb --set script=select-only --conns 8 --workers 1 --query-mode M --driver D --duration ${S.pairSec}s --warmup 0 --no-observe\` ` +
      `vs \`pgbench -n -S -M M -c 8 -j 1 -T ${S.pairSec}\`. CPU per transaction from each command's whole process tree (bash \`times\`).`,
  );
  say();
  say(
    "| mode | driver | run | dcpbench tps | pgbench tps | tps ratio | dcpbench µs CPU/txn | pgbench µs CPU/txn | CPU ratio |",
  );
  say("|---|---|---|---:|---:|---:|---:|---:|---:|");
  const ratios = new Map<string, { tps: number[]; cpu: number[] }>();
  for (const mode of ["simple", "extended", "prepared"]) {
    const pairs = mode === "simple" ? S.pairs : 1;
    // In simple mode, pg's own query path runs too, in the same interleaving: what the lean path buys.
    const drivers = mode === "simple" ? ["lean", "pg"] : ["lean"];
    for (let i = 1; i <= pairs; i++) {
      for (const driver of drivers) {
        const { r, t } = await dcp(
          // No warm-up: pgbench has none, and client CPU per transaction counts every cycle the process ran.
          selectOnly([
            "--conns",
            "8",
            "--workers",
            "1",
            "--query-mode",
            mode,
            "--driver",
            driver,
            "--warmup",
            "0",
          ]),
        );
        const d = r.summary["select-only"];
        const p = await timed(
          pgbench,
          ["-n", "-S", "-M", mode, "-c", "8", "-j", "1", "-T", String(S.pairSec), direct],
          env,
        );
        if (p.code !== 0) throw new Error(`pgbench -S -M ${mode} exited ${p.code}: ${p.stderr}`);
        const ptps = Number(/tps = ([\d.]+) \(without/.exec(p.stdout)?.[1]);
        const ptx = Number(/actually processed: (\d+)/.exec(p.stdout)?.[1]);
        const dus = (t.cpuSec / d.count) * 1e6;
        const pus = (p.cpuSec / ptx) * 1e6;
        // A starved host can keep 8 SCRAM logins from finishing inside a 1 s -T: no pgbench figure, no ratio.
        const measured = ptx > 0 && ptps > 0 && d.count > 0;
        const cell = (x: number, digits: number, unit = "") =>
          measured && Number.isFinite(x) ? `${x.toFixed(digits)}${unit}` : "—";
        say(
          `| ${mode} | ${driver} | ${i} | ${d.rate.toFixed(0)} | ${cell(ptps, 0)} | ${cell(d.rate / ptps, 2)} | ${cell(dus, 1)} | ${cell(pus, 1)} | ${cell(dus / pus, 1, "×")} |`,
        );
        const key = `${mode}, ${driver}`;
        if (!ratios.has(key)) ratios.set(key, { tps: [], cpu: [] });
        if (measured) {
          ratios.get(key)!.tps.push(d.rate / ptps);
          ratios.get(key)!.cpu.push(dus / pus);
        }
      }
    }
  }
  say();
  // One pair is one sample of a noisy machine; the medians are what to read.
  for (const [key, v] of ratios) {
    if (v.tps.length === 0) {
      say(`- ${key}: no pair measured (pgbench completed no transaction)`);
      continue;
    }
    say(
      `- ${key}: median tps ratio **${median(v.tps).toFixed(2)}**, median CPU ratio **${median(v.cpu).toFixed(1)}×** over ${v.tps.length} pair(s)`,
    );
  }
  say();
  say("Targets: tps ratio ≥ 0.80, CPU ratio ≤ 2.5×.");
  say();
}

/** 2. What the harness costs at the seed's shape: flight through PgBouncer. */
async function overhead({ env, direct, pooled, dcp }: Bench): Promise<void> {
  say(
    `## 2. Harness overhead: flight, ${S.overheadConns} clients over 4 workers, through PgBouncer, ${S.overheadSec} s`,
  );
  say();
  const flightScale = quick ? "0.01" : "0.1";
  await timed(
    process.execPath,
    [CLI, "init", "flight", "--scale", flightScale, "--drop", "--uri", direct],
    env,
  );
  {
    const { r, t } = await dcp([
      "run",
      "flight",
      "--uri",
      pooled,
      "--txn-pooling",
      "--conns",
      String(S.overheadConns),
      "--workers",
      "4",
      "--duration",
      `${S.overheadSec}s`,
    ]);
    const wall = (Date.parse(r.endedAt) - Date.parse(r.startedAt)) / 1000;
    const share = r.resources.cpuSec / (wall * cpus().length);
    say(
      `\`dcpbench run flight --uri POOLED --txn-pooling --conns ${S.overheadConns} --workers 4 --duration ${S.overheadSec}s\` (seed knobs, flight at scale ${flightScale}):`,
    );
    say();
    say(
      `- ${r.summary.__cycle__.rate.toFixed(0)} cycles/s, p99 ${r.summary.__cycle__.p99.toFixed(0)} ms, errors ${Object.values(r.summary.__cycle__.errors).reduce((a, b) => a + b, 0)}`,
    );
    say(
      `- harness CPU (runner + workers, from the result): ${r.resources.cpuSec.toFixed(1)} s over ${wall.toFixed(1)} s of wall time = **${(share * 100).toFixed(1)}% of the machine** (${cpus().length} cores); whole command tree incl. start-up: ${t.cpuSec.toFixed(1)} s`,
    );
    say("- Target: ≤ 15%.");
  }
  say();
}

/** 3. Many clients from one host. */
async function scale({ pooled, dcp }: Bench): Promise<void> {
  say(
    `## 3. Scale: ${S.scaleConns} clients through PgBouncer, 4 workers, closed loop with 1 s think time, ${S.scaleSec} s`,
  );
  say();
  {
    const { r } = await dcp([
      "run",
      "select1",
      "--uri",
      pooled,
      "--txn-pooling",
      "--conns",
      String(S.scaleConns),
      "--workers",
      "4",
      "--set",
      "think_ms=1000",
      "--duration",
      `${S.scaleSec}s`,
      "--connect-timeout",
      "60s",
    ]);
    const errors = Object.values(r.summary.__cycle__.errors).reduce((a, b) => a + b, 0);
    say(
      `- connected ${r.clients.connected} of ${r.clients.planned}; ${r.summary.__cycle__.count} cycles (${r.summary.__cycle__.rate.toFixed(0)}/s); errors ${errors}; partial ${r.partial}`,
    );
    say(
      `- harness peak RSS, sum over runner and workers: **${r.resources.peakRssMb.toFixed(0)} MB** (runner ${r.resources.runner.maxRssMb.toFixed(0)} MB, workers ${r.resources.workers.map((w) => w.maxRssMb.toFixed(0)).join(" / ")} MB)`,
    );
    say(
      `- connect p50/p99/max: ${r.summary.__connect__.p50.toFixed(1)} / ${r.summary.__connect__.p99.toFixed(1)} / ${r.summary.__connect__.max.toFixed(1)} ms`,
    );
    say("- Target: all connect, no errors, ≤ 1.5 GB in total.");
  }
  say();
}

/** 4. Pacing accuracy at a fixed rate. */
async function pacing({ dcp, selectOnly, pgbenchLog }: Bench): Promise<void> {
  // 4. Pacing accuracy. Its tail is the machine's as much as ours (pgbench's own lag swings 2× from one
  // run to the next here): the runs alternate, and the medians are what to read. Each round runs both tools
  // pinned to one CPU (dcpbench --pin, pgbench under taskset) and both free to run anywhere.
  const pinCpu = findTaskset() ? allowedCpus()?.at(-1) : undefined;
  say(
    `## 4. Pacing: --rate ${S.paceRate} select-only, ${S.paceSec} s, 32 clients, direct, ${S.tailPairs} interleaved round(s)`,
  );
  say();
  say(
    `Each round, in this order: ${
      pinCpu === undefined
        ? "(no taskset here: nothing pinned) "
        : `\`dcpbench run tpcb --set script=select-only --rate ${S.paceRate} --conns 32 --workers 1 --ramp ${S.tailRampSec}s --duration ${S.paceSec}s --pin ${pinCpu}\`; \`pgbench -n -S -c 32 -j 1 -R ${S.paceRate} -T ${S.tailRampSec + S.paceSec + PGBENCH_CONNECT_SEC} --log\` (its log cut to ${S.paceSec} s from ${S.tailRampSec} s after its first transaction: -T counts its connects) under \`taskset -c ${pinCpu}\`; then `
    }both without pinning. dcpbench's ramp (the rate rises from 0 over it) warms the JIT and is left out of its summary; pgbench runs ${S.tailRampSec} s longer and its first ${S.tailRampSec} s are left out of its numbers likewise. pgbench's schedule lag is the anchor for what this machine allows at the time.`,
  );
  say();
  say(
    "| round | pinned | achieved rate | missed | dcpbench lag p50 | **p99** | max | pgbench lag p50 | p99 | max |",
  );
  say("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  const paceArgs = (ramp: boolean, pin: boolean) =>
    selectOnly([
      "--rate",
      String(S.paceRate),
      "--conns",
      "32",
      "--workers",
      "1",
      ...(ramp ? ["--ramp", `${S.tailRampSec}s`] : []),
      ...(pin && pinCpu !== undefined ? ["--pin", String(pinCpu)] : []),
      "--duration",
      `${S.paceSec}s`,
    ]);
  const pace = new Map<boolean, { off: number[]; p99: number[]; pgP99: number[] }>();
  const kinds = pinCpu === undefined ? [false] : [true, false];
  for (let i = 1; i <= S.tailPairs; i++) {
    for (const pinned of kinds) {
      const { r } = await dcp(paceArgs(true, pinned));
      const rate = r.summary.__cycle__.count / r.elapsedSec;
      const lag = r.summary.__lag__;
      const pgLag = (
        await pgbenchLog(
          ["-n", "-S", "-c", "32", "-j", "1", "-R", String(S.paceRate)],
          S.tailRampSec,
          S.paceSec,
          pinned ? pinCpu : undefined,
        )
      )
        .map((fields) => Number(fields[6]))
        .filter((v) => Number.isFinite(v))
        .sort((a, b) => a - b);
      const pg = (q: number) => quantile(pgLag, q) / 1000;
      const off = ((rate - S.paceRate) / S.paceRate) * 100;
      if (!pace.has(pinned)) pace.set(pinned, { off: [], p99: [], pgP99: [] });
      const m = pace.get(pinned)!;
      m.off.push(off);
      m.p99.push(lag.p99);
      m.pgP99.push(pg(0.99));
      say(
        `| ${i} | ${pinned ? `CPU ${pinCpu}` : "no"} | ${rate.toFixed(1)}/s (${off.toFixed(2)}%) | ${r.counters.missed} | ${lag.p50.toFixed(3)} ms | **${lag.p99.toFixed(3)} ms** | ${lag.max.toFixed(1)} ms | ${pg(0.5).toFixed(3)} ms | ${pg(0.99).toFixed(3)} ms | ${((pgLag.at(-1) ?? NaN) / 1000).toFixed(1)} ms |`,
      );
    }
  }
  say();
  for (const pinned of kinds) {
    const m = pace.get(pinned)!;
    const worstOff = m.off.reduce((w, o) => (Math.abs(o) > Math.abs(w) ? o : w), 0);
    say(
      `- ${pinned ? `pinned to CPU ${pinCpu}` : "not pinned"}: achieved rate, furthest from ${S.paceRate}/s: **${worstOff.toFixed(2)}%**; scheduling lag (actual − intended start, \`__lag__\`) p99, median of the rounds: **${median(m.p99).toFixed(3)} ms** (pgbench's: ${median(m.pgP99).toFixed(3)} ms)`,
    );
  }
  say("- Targets: within 1%, lag p99 < 1 ms.");
  {
    const { r } = await dcp(paceArgs(false, pinCpu !== undefined));
    const lag = r.summary.__lag__;
    say(
      `- For comparison, one run without \`--ramp\` (JIT warm-up inside the measured window)${pinCpu !== undefined ? `, pinned` : ""}: lag p50 ${lag.p50.toFixed(3)} ms, p99 ${lag.p99.toFixed(3)} ms, max ${lag.max.toFixed(1)} ms.`,
    );
  }
  say();
}

/** 5. Latency agreement with pgbench at fixed rates, with default flags. */
async function agreement({ dcp, selectOnly, pgbenchLog }: Bench): Promise<void> {
  // 5. Latency agreement with pgbench at fixed rates, with dcpbench's default flags (its default warm-up,
  // no ramp, no pinning: what a new user runs), alternating as in 4.
  const warmSec = S.agreeSec >= 20 ? 2 : S.agreeSec >= 5 ? 1 : 0;
  say(
    `## 5. Latency agreement with default flags at ${S.agreeRates.join("/s and ")}/s, select-only, 8 clients, direct, ${S.agreePairs} interleaved pair(s) each`,
  );
  say();
  say(
    `Each pair: dcpbench \`__cycle__\` (\`--rate R --conns 8 --workers 1 --duration ${S.agreeSec}s\`, nothing else: its default warm-up${warmSec ? ` (until steady, at least ${warmSec} s)` : ""} is left out of its numbers; latency from the intended start), and \`pgbench -n -S -c 8 -j 1 -R R -T ${warmSec + S.agreeSec + PGBENCH_CONNECT_SEC} --log\` (latency from the scheduled start; -T counts its connects), its log from ${warmSec} s after its first transaction for ${S.agreeSec} s; dcpbench first in odd pairs, pgbench first in even ones, counted across both rates. Neither is pinned. dcpbench's own start lag (\`__lag__\`) is shown beside.`,
  );
  say();
  say(
    "| rate | pair | dcpbench p50 | pgbench p50 | difference | dcpbench p99 | pgbench p99 | difference | dcpbench lag p99 |",
  );
  say("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
  const diff = (d: number, p: number) => `${(((d - p) / p) * 100).toFixed(0)}% (${(d - p).toFixed(3)} ms)`;
  // As in section 1 (the median of the pairs' ratios): each pair's difference, then their median. The two
  // runs of a pair meet the same state of the machine; runs of different pairs do not.
  const paired = (d: number[], p: number[]) => {
    const ms = median(d.map((x, i) => x - p[i]));
    const pct = median(d.map((x, i) => ((x - p[i]) / p[i]) * 100));
    return `${pct.toFixed(0)}% (${ms.toFixed(3)} ms)`;
  };
  const summaries: string[] = [];
  let pairNo = 0;
  for (const rate of S.agreeRates) {
    const agree = {
      d50: [] as number[],
      p50: [] as number[],
      d99: [] as number[],
      p99: [] as number[],
      lag: [] as number[],
    };
    for (let i = 1; i <= S.agreePairs; i++) {
      const runDcp = () =>
        dcp(
          selectOnly([
            "--rate",
            String(rate),
            "--conns",
            "8",
            "--workers",
            "1",
            "--duration",
            `${S.agreeSec}s`,
          ]),
        );
      const runPgbench = () =>
        pgbenchLog(["-n", "-S", "-c", "8", "-j", "1", "-R", String(rate)], warmSec, S.agreeSec);
      // Each tool goes first in every other pair: whatever the first run of a pair meets (a cache still
      // cold, a neighbour's burst) falls on both tools alike.
      let r: ResultFile;
      let logged: string[][];
      if (++pairNo % 2 === 1) {
        r = (await runDcp()).r;
        logged = await runPgbench();
      } else {
        logged = await runPgbench();
        r = (await runDcp()).r;
      }
      const lat = logged
        .map((fields) => Number(fields[2]))
        .filter((v) => Number.isFinite(v))
        .sort((a, b) => a - b);
      const pg = (q: number) => quantile(lat, q) / 1000;
      const h = decode(r.summary.__cycle__.histogram);
      const dq = (q: number) => h.getValueAtPercentile(q * 100) / 1000;
      const lag = r.summary.__lag__?.p99 ?? NaN;
      agree.d50.push(dq(0.5));
      agree.p50.push(pg(0.5));
      agree.d99.push(dq(0.99));
      agree.p99.push(pg(0.99));
      agree.lag.push(lag);
      say(
        `| ${rate}/s | ${i} | ${dq(0.5).toFixed(3)} ms | ${pg(0.5).toFixed(3)} ms | ${diff(dq(0.5), pg(0.5))} | ${dq(0.99).toFixed(3)} ms | ${pg(0.99).toFixed(3)} ms | ${diff(dq(0.99), pg(0.99))} | ${lag.toFixed(3)} ms |`,
      );
    }
    const [d50, p50, d99, p99] = [agree.d50, agree.p50, agree.d99, agree.p99].map(median);
    summaries.push(
      `- ${rate}/s: median of the pairs' differences: p50 **${paired(agree.d50, agree.p50)}**, p99 **${paired(agree.d99, agree.p99)}** ` +
        `(each tool's median: p50 ${d50.toFixed(3)} vs ${p50.toFixed(3)} ms, p99 ${d99.toFixed(3)} vs ${p99.toFixed(3)} ms); ` +
        `dcpbench's lag p99, median **${median(agree.lag).toFixed(3)} ms**. Targets: p99 within 15% or 0.2 ms of pgbench's; lag p99 below 1 ms.`,
    );
  }
  say();
  for (const line of summaries) say(line);
  say();
}

/** 11. Connecting per transaction: what each client pays per connection, and what the server pays. */
async function connectPerTxn({ env, direct, pooled, pgbench, dcp }: Bench): Promise<void> {
  say(
    `## 11. Connect per transaction: dcpbench \`--connect-per-txn\` against \`pgbench -C\`, select-only, 8 clients, ${S.connPairs} interleaved round(s)`,
  );
  say();
  say(
    `Each round, direct then through PgBouncer: \`dcpbench run tpcb --set script=select-only --connect-per-txn --conns 8 --workers 2 --duration ${S.connSec}s --warmup 0\` ` +
      `(its server-side sampling on: the server's CPU per cycle), then \`pgbench -n -S -C -c 8 -j 8 -T ${S.connSec}\` with libpq's defaults, then the same with ` +
      `\`PGSSLMODE=disable PGGSSENCMODE=disable\` (libpq's SSL and GSS negotiation left out). Client CPU: each command's whole process tree (bash \`times\`).`,
  );
  say();
  say("| round | target | client | cycles/s | client CPU ms per connection | server CPU ms per cycle |");
  say("|---|---|---|---:|---:|---:|");
  const conn = new Map<string, { rate: number[]; cpu: number[] }>();
  const keep = (key: string, rate: number, cpu: number) => {
    if (!conn.has(key)) conn.set(key, { rate: [], cpu: [] });
    conn.get(key)!.rate.push(rate);
    conn.get(key)!.cpu.push(cpu);
  };
  for (let i = 1; i <= S.connPairs; i++) {
    for (const [target, uri] of [
      ["direct", direct],
      ["pooled", pooled],
    ] as const) {
      const { r, t } = await dcp(
        ["run", "tpcb", "--uri", uri, "--set", "script=select-only", "--connect-per-txn"]
          .concat(target === "pooled" ? ["--txn-pooling"] : [])
          .concat(["--conns", "8", "--workers", "2", "--duration", `${S.connSec}s`, "--warmup", "0"]),
      );
      const cycles = r.summary.__cycle__.count;
      const dCpu = (t.cpuSec / cycles) * 1000;
      const srv = r.serverSide?.summary.cpuPerTxnMs;
      say(
        `| ${i} | ${target} | dcpbench | ${(cycles / r.elapsedSec).toFixed(0)} | ${dCpu.toFixed(2)} | ${srv === null || srv === undefined ? "-" : srv.toFixed(2)} |`,
      );
      keep(`${target}, dcpbench`, cycles / r.elapsedSec, dCpu);
      for (const [name, extraEnv] of [
        ["pgbench", {}],
        ["pgbench, no SSL/GSS negotiation", { PGSSLMODE: "disable", PGGSSENCMODE: "disable" }],
      ] as const) {
        const p = await timed(
          pgbench,
          ["-n", "-S", "-C", "-c", "8", "-j", "8", "-T", String(S.connSec), uri],
          { ...env, ...extraEnv },
        );
        const tx = Number(/actually processed: (\d+)/.exec(p.stdout)?.[1]);
        const rate = Number(/tps = ([\d.]+)/.exec(p.stdout)?.[1]);
        say(`| ${i} | ${target} | ${name} | ${rate.toFixed(0)} | ${((p.cpuSec / tx) * 1000).toFixed(2)} | |`);
        keep(`${target}, ${name}`, rate, (p.cpuSec / tx) * 1000);
      }
    }
  }
  say();
  for (const [key, v] of conn)
    say(
      `- ${key}: median **${median(v.rate).toFixed(0)} cycles/s**, client CPU **${median(v.cpu).toFixed(2)} ms** per connection`,
    );
  say();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "dcpbench-bench-"));
  chmodSync(dir, 0o755);
  const outDir = join(dir, "results");
  const { status } = await benchStack({ dir, portBase: await freeBase(), maxClientConn: 12_000 });
  const env = { ...process.env, PGPASSFILE: status.pgpassfile, DCPBENCH_STACK_DIR: dir };
  const direct = status.uris.direct;
  const pooled = status.uris.pooled;
  const pgbench = pgProgram("pgbench");
  if (!pgbench) throw new Error("pgbench not found (postgresql-15)");
  let n = 0;
  const dcp = async (argv: string[]): Promise<{ r: ResultFile; t: Timed }> => {
    const out = join(outDir, String(++n));
    // As the `dcpbench` bin runs (its Node flags), with this Node.
    const t = await timed(
      process.execPath,
      [...BIN_FLAGS, CLI, ...argv, "--progress", "off", "--out", out],
      env,
    );
    if (t.code !== 0) throw new Error(`dcpbench ${argv.join(" ")} exited ${t.code}: ${t.stderr}`);
    const file = readdirSync(out).find((f) => f.endsWith(".json"))!;
    return { r: JSON.parse(readFileSync(join(out, file), "utf8")) as ResultFile, t };
  };
  /** tpcb select-only, direct, without the samplers; the ceiling's duration unless `extra` gives one. */
  const selectOnly = (extra: string[]): string[] =>
    ["run", "tpcb", "--uri", direct, "--set", "script=select-only", "--no-observe"].concat(
      extra.includes("--duration") ? extra : [...extra, "--duration", `${S.pairSec}s`],
    );
  /**
   * Runs pgbench with --log in a directory of its own; every logged transaction, split into fields (client
   * tx_no latency_us script_no epoch epoch_us [lag_us]), from `skipSec` after its first (left out as dcpbench
   * leaves out its warm-up) for `measureSec`. pgbench's -T counts its connects too (32 SCRAM logins took 3 s
   * here, pinned), so it runs PGBENCH_CONNECT_SEC longer than that and the log is cut to the span measured.
   * `cpu`: pgbench pinned to it with taskset, as dcpbench's --pin pins its worker.
   */
  const pgbenchLog = async (
    argv: string[],
    skipSec: number,
    measureSec: number,
    cpu?: number,
  ): Promise<string[][]> => {
    const logDir = mkdtempSync(join(tmpdir(), "dcpbench-pglog-"));
    chmodSync(logDir, 0o777);
    try {
      const T = String(skipSec + measureSec + PGBENCH_CONNECT_SEC);
      const quoted = [...argv, "-T", T, "--log", "--log-prefix=pgb", direct].map((a) => `'${a}'`).join(" ");
      const pin = cpu === undefined ? "" : `'${findTaskset()}' -c ${cpu} `;
      const p = await timed("bash", ["-c", `cd '${logDir}' && ${pin}'${pgbench}' ${quoted}`], env);
      if (p.code !== 0) throw new Error(`pgbench ${argv.join(" ")}: ${p.stderr}`);
      const rows = readdirSync(logDir).flatMap((f) =>
        readFileSync(join(logDir, f), "utf8")
          .trim()
          .split("\n")
          .map((l) => l.split(" ")),
      );
      const at = (fields: string[]) => Number(fields[4]) + Number(fields[5]) / 1e6;
      const from = rows.reduce((m, f) => Math.min(m, at(f)), Infinity) + skipSec;
      return rows.filter((f) => at(f) >= from && at(f) < from + measureSec);
    } finally {
      rmSync(logDir, { recursive: true, force: true });
    }
  };
  const bench: Bench = { env, direct, pooled, pgbench, dcp, selectOnly, pgbenchLog };
  try {
    const started = new Date();
    const benchStart = cpuTicks();
    let sectionStart = benchStart;
    /** Ends a section with the steal it met: a noisy neighbour shows in every tail of it, both tools' alike. */
    const sayStealOfSection = () => {
      const now = cpuTicks();
      const steal = stealShare(sectionStart, now);
      if (steal !== undefined)
        say(
          `CPU steal during this section (time the hypervisor gave to other guests): ${steal.toFixed(1)}%.`,
        );
      say();
      sectionStart = now;
    };
    say(`# dcpbench benchmarks${quick ? " (quick, tiny sizes: not for reading)" : ""}`);
    say();
    say(
      `Written by \`npm run bench${quick ? " -- --quick" : ""}\` (bench/harness.ts) on ${started.toISOString()}, at commit ${commit()}.`,
    );
    say();
    say("## The machine");
    say();
    say(
      `- ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}`,
    );
    say(
      `- Node ${process.version}; ${execFileSync(pgbench, ["--version"]).toString().trim()}; ` +
        `${execFileSync("pgbouncer", ["--version"]).toString().split("\n")[0]}`,
    );
    say(
      "- PostgreSQL, PgBouncer and both load generators share the machine; each figure compares runs made back to back on it.",
    );
    say();

    for (const section of [ceiling, overhead, scale, pacing, agreement, connectPerTxn]) {
      await section(bench);
      sayStealOfSection();
    }
    const steal = stealShare(benchStart, cpuTicks());
    say(
      `Total time: ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s` +
        (steal === undefined ? "." : `; CPU steal over the whole bench ${steal.toFixed(1)}%.`),
    );
    // The sections of bench/server-side.ts and bench/sweep.ts, measured by their own commands, are kept as they were.
    const old = existsSync(outFile) ? readFileSync(outFile, "utf8") : "";
    for (const [begin, end] of [
      [SERVER_SIDE_BEGIN, SERVER_SIDE_END],
      [SWEEP_BEGIN, SWEEP_END],
      [MERGE_BEGIN, MERGE_END],
    ]) {
      const kept = keptSection(old, begin, end);
      if (kept) {
        say();
        say(kept);
      }
    }
    say();
    say(readFileSync(CODE_CHOICES, "utf8").trimEnd());
    writeFileSync(outFile, lines.join("\n") + "\n");
    process.stderr.write(`wrote ${outFile}\n`);
  } finally {
    await stackDown(dir).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(1);
});
