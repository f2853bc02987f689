/**
 * Where pooling starts to pay (issue 16), measured: `dcpbench sweep` of tpcb select-only and tpcb-like, direct vs
 * the stack's PgBouncer, with pgbench at the same points as referee (interleaved the same way, judged by the same
 * rule), and a flight sweep. Writes its section into BENCHMARKS.md between its markers (which the other benches
 * keep), or the whole of --out:
 *
 *   npm run bench:sweep                           # about 75 minutes (three sweeps of about 25 each)
 *   npm run bench:sweep -- --quick --out /tmp/s.md
 *   npm run bench:sweep -- --only tpcb-like,flight --out /tmp/s.md   # some of the sweeps
 */
import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { crossovers, hopLine, hopOf } from "../src/results/sweeps/crossover.js";
import { loadSweepPoints, readSweepIndex } from "../src/results/sweeps/index-file.js";
import { spreadOf, sweepSeries, type SweepSeries } from "../src/results/sweeps/summary.js";
import { sweepTable } from "../src/results/sweeps/table.js";
import { closeStackServerConnections } from "../src/stack/pooler-control.js";
import { stackDown, type StackStatus } from "../src/stack/stack.js";
import { pgProgram } from "../src/stack/system.js";
import {
  BIN_FLAGS,
  CLI,
  commit,
  freeBase,
  keptSection,
  quantile,
  SWEEP_BEGIN,
  SWEEP_END,
  benchStack,
} from "./util.js";

/** pgbench's -T includes its connects: at least this much longer, the steady span cut from its log. */
const PGBENCH_CONNECT_SEC = 5;
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const outFile = args.includes("--out") ? args[args.indexOf("--out") + 1] : undefined;
const SWEEPS = ["select-only", "tpcb-like", "flight"];
const only = args.includes("--only") ? (args[args.indexOf("--only") + 1] ?? "").split(",") : SWEEPS;
const unknownSweep = only.find((o) => !SWEEPS.includes(o));
if (unknownSweep !== undefined) {
  process.stderr.write(`--only: no sweep ${JSON.stringify(unknownSweep)} (${SWEEPS.join(", ")})\n`);
  process.exit(2);
}

const S = quick
  ? { conns: [2, 4], repeat: 1, sec: 1, tpcbScale: 1, flightScale: 0.01, flightConns: [4, 8] }
  : {
      conns: [8, 64, 256, 1024],
      repeat: 3,
      sec: 8,
      tpcbScale: 10,
      flightScale: 0.1,
      flightConns: [64, 256, 1024],
    };

const lines: string[] = [];
const say = (s = "") => {
  lines.push(s);
  process.stderr.write(s + "\n");
};

function exec(cmd: string, argv: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.once("exit", (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${cmd} ${argv.join(" ")} exited ${code}: ${err.slice(-2000)}`)),
    );
  });
}

const dcpbench = (argv: string[], env: NodeJS.ProcessEnv) =>
  exec(process.execPath, [...BIN_FLAGS, CLI, ...argv], env);

/** One dcpbench sweep; its series, read back through the index as `report` reads them. */
async function sweep(argv: string[], out: string, env: NodeJS.ProcessEnv): Promise<SweepSeries[]> {
  await dcpbench(
    [
      "sweep",
      ...argv,
      "--repeat",
      String(S.repeat),
      "--duration",
      `${S.sec}s`,
      // --quick is a smoke test: no need to wait for sessions to close between points.
      ...(quick ? ["--pause", "200ms"] : []),
      "--progress",
      "off",
      "--out",
      out,
    ],
    env,
  );
  const file = readdirSync(out).find((f) => f.startsWith("sweep_"))!;
  const path = join(out, file);
  const index = readSweepIndex(path);
  return sweepSeries(index.plan, loadSweepPoints(path, index));
}

interface PgbenchRun {
  tps: number;
  p50: number;
  p99: number;
}

/**
 * pgbench at one point, in its steady state: its -T counts its connects too (1024 direct connections took more
 * than 8 s here, and it processed nothing), so it runs PGBENCH_CONNECT_SEC (and a second per 50 clients) longer,
 * and tps, p50 and p99 come from its per-transaction log's last S.sec seconds (less the last half second, the
 * stop), when every client is connected and running: the span dcpbench's window measures.
 */
async function pgbench(
  bin: string,
  uri: string,
  script: string,
  conns: number,
  env: NodeJS.ProcessEnv,
): Promise<PgbenchRun> {
  const dir = mkdtempSync(join(tmpdir(), "dcpbench-bench-pgb-"));
  try {
    const flags = script === "select-only" ? ["-S"] : [];
    const T = S.sec + PGBENCH_CONNECT_SEC + Math.ceil(conns / 50);
    await exec(
      bin,
      ["-n", ...flags, "-c", String(conns), "-j", "2", "-T", String(T), "--log", uri],
      env,
      dir,
    );
    const rows: Array<{ at: number; ms: number }> = [];
    for (const f of readdirSync(dir)) {
      for (const line of readFileSync(join(dir, f), "utf8").split("\n")) {
        const x = line.split(" ");
        const at = Number(x[4]) + Number(x[5]) / 1e6;
        if (line && Number.isFinite(at)) rows.push({ at, ms: Number(x[2]) / 1000 });
      }
    }
    const end = rows.reduce((m, r) => Math.max(m, r.at), 0) - 0.5;
    const span = rows.filter((r) => r.at >= end - S.sec && r.at < end);
    const latencies = span.map((r) => r.ms).sort((a, b) => a - b);
    return { tps: span.length / S.sec, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** pgbench at every point, in the sweep's order (rounds of repeats, targets alternating), as series. */
async function pgbenchSweep(
  stackDir: string,
  bin: string,
  uris: { direct: string; pooled: string },
  script: string,
  env: NodeJS.ProcessEnv,
) {
  const runs = new Map<string, PgbenchRun[]>();
  for (let r = 1; r <= S.repeat; r++) {
    for (const c of S.conns) {
      const targets = r % 2 ? (["direct", "pooled"] as const) : (["pooled", "direct"] as const);
      for (const t of targets) {
        // As before each dcpbench point: a pause, and no idle server connection left in PgBouncer.
        await new Promise((resolve) => setTimeout(resolve, quick ? 200 : 2000));
        await closeStackServerConnections(stackDir);
        const run = await pgbench(bin, uris[t], script, c, env);
        runs.set(`${t}@${c}`, [...(runs.get(`${t}@${c}`) ?? []), run]);
        process.stderr.write(
          `pgbench ${script} ${t} ${c} clients: ${run.tps.toFixed(0)} tps, p99 ${run.p99.toFixed(2)} ms\n`,
        );
      }
    }
  }
  const series = (name: "direct" | "pooled"): SweepSeries => ({
    key: name,
    name,
    target: name,
    poolSize: null,
    txnPooling: name === "pooled",
    points: S.conns.map((c) => {
      const rs = runs.get(`${name}@${c}`) ?? [];
      return {
        conns: c,
        runs: rs.length,
        values: {
          throughput: spreadOf(rs.map((x) => x.tps)),
          p50: spreadOf(rs.map((x) => x.p50).filter(Number.isFinite)),
          p99: spreadOf(rs.map((x) => x.p99).filter(Number.isFinite)),
        },
        opP50: {},
      };
    }),
  });
  const idle = [...runs]
    .filter(([, rs]) => rs.some((x) => x.tps === 0))
    .map(([k, rs]) => {
      const [t, c] = k.split("@");
      return `${t} at ${c} clients (${rs.filter((x) => x.tps === 0).length} of ${rs.length} runs)`;
    });
  return { series: [series("direct"), series("pooled")], idle };
}

function crossoverSay(series: SweepSeries[], who: string): void {
  for (const c of crossovers(series)) say(`- ${who}, ${c.line}`);
}

async function main(): Promise<void> {
  const bin = pgProgram("pgbench");
  if (!bin) throw new Error("pgbench not found (postgresql-15)");
  const dir = mkdtempSync(join(tmpdir(), "dcpbench-bench-sweep-"));
  chmodSync(dir, 0o755);
  let status: StackStatus | undefined;
  const started = Date.now();
  try {
    ({ status } = await benchStack({ dir, poolSize: 64, portBase: await freeBase() }));
    // This process talks to PgBouncer's admin console too (RECONNECT before each pgbench point).
    process.env.PGPASSFILE = status.pgpassfile;
    const env = { ...process.env, DCPBENCH_STACK_DIR: dir };
    const uris = { direct: status.uris.direct, pooled: status.uris.pooled };
    if (only.some((o) => o !== "flight"))
      await dcpbench(["init", "tpcb", "--scale", String(S.tpcbScale)], env);
    say(SWEEP_BEGIN);
    say("## 9. Where pooling starts to pay: sweeps, with pgbench as referee");
    say();
    say(
      `Measured at ${commit()} on ${new Date().toISOString().slice(0, 10)} by \`npm run bench:sweep\`` +
        `${quick ? " (--quick: a smoke test, not a measurement)" : ""}: the local stack (PostgreSQL, one PgBouncer, ` +
        `transaction pooling, pool size 64), tpcb at scale ${S.tpcbScale}; ${S.conns.join(", ")} clients; ` +
        `${S.repeat} runs per point of ${S.sec} s; every point \`--workers\` default (${availableParallelism()} on this machine). ` +
        "dcpbench: `dcpbench sweep tpcb --set script=S --conns … --repeat … --duration …`. pgbench: " +
        "`pgbench -n [-S] -c C -j 2 -T … --log` (-T longer by 5 s and a second per 50 clients, as its -T counts its connects; its numbers from its log's last seconds, as long as dcpbench's window) at the same points in the same order (rounds of repeats, the two " +
        "targets alternating, each after the same pause and PgBouncer RECONNECT as dcpbench's points), its p50/p99 " +
        "from its per-transaction log (tps too). Both judged " +
        "by the same rule: ahead only where the repeats' ranges do not overlap.",
    );
    for (const script of ["select-only", "tpcb-like"].filter((x) => only.includes(x))) {
      say();
      say(`### tpcb ${script}`);
      say();
      const ours = await sweep(
        ["tpcb", "--set", `script=${script}`, "--conns", S.conns.join(",")],
        join(dir, script),
        env,
      );
      const { series: ref, idle } = await pgbenchSweep(dir, bin, uris, script, env);
      say("```");
      say(sweepTable(ours));
      say("```");
      say();
      say("pgbench at the same points (tps; p50 and p99 in ms):");
      say();
      say("```");
      say(sweepTable(ref, ["throughput", "p50", "p99"]).replace(/cycles\/s/, "     tps"));
      say("```");
      if (idle.length)
        say(
          `\npgbench processed no transaction within -T at ${idle.join("; ")}: its clients took longer than ` +
            `the ${S.sec} s to connect (its -T counts from its start; dcpbench's clients connect before the measured window).`,
        );
      say();
      crossoverSay(ours, "dcpbench");
      crossoverSay(ref, "pgbench");
      for (const h of hopOf(ours)) say(`- dcpbench, ${hopLine(h)}`);
    }
    if (only.includes("flight")) await flightSweeps(dir, env);
    say();
    say(`(The bench took ${((Date.now() - started) / 60_000).toFixed(1)} minutes.)`);
    say(SWEEP_END);
  } finally {
    await stackDown(dir).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  const section = lines.join("\n");
  if (outFile) writeFileSync(outFile, section + "\n");
  else {
    const old = existsSync("BENCHMARKS.md") ? readFileSync("BENCHMARKS.md", "utf8") : "";
    const kept = keptSection(old, SWEEP_BEGIN, SWEEP_END);
    writeFileSync("BENCHMARKS.md", kept ? old.replace(kept, section) : `${old.trimEnd()}\n\n${section}\n`);
  }
}

async function flightSweeps(dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  say();
  say("### flight");
  say();
  await dcpbench(["init", "flight", "--scale", String(S.flightScale)], env);
  // The seed's ops (an id read in the hot first tenth, then the UPDATE), then the uniform pick beside them.
  for (const pick of ["seed", "uniform"]) {
    const argv = ["flight", "--set", `pick=${pick}`, "--conns", S.flightConns.join(",")];
    const flight = await sweep(argv, join(dir, `flight-${pick}`), env);
    say(
      `\`dcpbench sweep ${argv.join(" ")}\` (the seed's other knobs: delay 100 ms, batch 64; flight at scale ` +
        `${S.flightScale}):`,
    );
    say();
    say("```");
    say(sweepTable(flight));
    say("```");
    say();
    crossoverSay(flight, "dcpbench");
    say();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
