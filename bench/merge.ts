/**
 * `npm run bench:merge`: what `dcpbench merge` costs and what a merged fleet run looks like.
 *   1. 16 synthetic shards × 600 one-second intervals (4 ops + __cycle__, each interval's histogram from
 *      ~100 latencies per op): `dcpbench merge` wall time and peak RSS (GNU time), 3 runs, median.
 *   2. Three real shards of `select1 --conns 24 --rate 600 --duration 20s` with one --start-at against a stack
 *      of the bench's own, merged: counts, rate, p99, the clock spread.
 * Writes its section of BENCHMARKS.md (between its markers), or to --out; `--quick` runs both at a tiny size.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encode, newHistogram, record, stats } from "../src/metrics/histogram.js";
import { buildPlan, savedPlan } from "../src/plan.js";
import { CYCLE, type OpSummary, type TimelineEntry } from "../src/schema/measures.js";
import { RESULT_SCHEMA, RESULT_VERSION, type ResultFile } from "../src/schema/result.js";
import { stackDown } from "../src/stack/stack.js";
import {
  BIN_FLAGS,
  CLI,
  commit,
  freeBase,
  keptSection,
  median,
  MERGE_BEGIN,
  MERGE_END,
  benchStack,
} from "./util.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const outFile = args.includes("--out") ? args[args.indexOf("--out") + 1] : undefined;
const SHARDS = quick ? 3 : 16;
const INTERVALS = quick ? 20 : 600;
const OPS = ["a", "b", "c", "d", CYCLE];
// Synthetic shards were never run: a start ahead of now keeps the plan valid.
const START_AT = new Date(Date.now() + 86_400_000).toISOString().replace(/\.\d+Z$/, "Z");

/** One synthetic shard: an ordinary result file whose every interval has a histogram per op. */
function syntheticShard(index: number): ResultFile {
  const plan = buildPlan({
    workload: "select1",
    workloadRef: "select1",
    knobs: {},
    uri: "postgresql://bench@127.0.0.1:5432/bench",
    conns: 100 * SHARDS,
    cpus: 2,
    rate: String(1000 * SHARDS),
    duration: `${INTERVALS}s`,
    shard: `${index}/${SHARDS}`,
    startAt: START_AT,
  });
  const totals = new Map(OPS.map((op) => [op, newHistogram()]));
  const h = newHistogram();
  const timeline: TimelineEntry[] = [];
  for (let seq = 1; seq <= INTERVALS; seq++) {
    const entry: TimelineEntry = { seq, t: seq, dt: 1, ramp: false, ops: {}, reconnects: 0 };
    for (const op of OPS) {
      h.reset();
      for (let k = 0; k < 100; k++) record(h, 200 + Math.random() ** 3 * 50_000);
      totals.get(op)!.add(h);
      const st = stats(h);
      entry.ops[op] = {
        count: 100,
        errors: 0,
        skipped: 0,
        retries: 0,
        p50: st.p50,
        p95: st.p95,
        p99: st.p99,
        max: st.max,
        histogram: encode(h),
      };
    }
    timeline.push(entry);
  }
  const summary: Record<string, OpSummary> = {};
  for (const [op, t] of totals)
    summary[op] = {
      ...stats(t),
      rate: t.totalCount / INTERVALS,
      errors: { connection: 0, serialization: 0, timeout: 0, other: 0 },
      sqlstates: {},
      skipped: 0,
      retries: 0,
      ambiguous: 0,
      histogram: encode(t),
    };
  const resources = {
    runner: { cpuUserSec: 1, cpuSystemSec: 0, maxRssMb: 80 },
    workers: [],
    cpuSec: 1,
    peakRssMb: 80,
  };
  return {
    schema: RESULT_SCHEMA,
    version: RESULT_VERSION,
    tool: { name: "dcpbench", version: "bench" },
    label: "fleet",
    workload: "select1",
    plan: savedPlan(plan),
    server: { product: "postgres", version: "PostgreSQL 15" },
    startedAt: START_AT,
    endedAt: START_AT,
    elapsedSec: INTERVALS,
    partial: false,
    stopReason: "duration",
    exitCode: 0,
    clients: { planned: plan.conns, connected: plan.conns, failedToConnect: 0 },
    summary,
    counters: { reconnects: 0, missed: 0, abandoned: 0 },
    errorSamples: [],
    faults: [],
    availability: [],
    outages: [],
    stalls: [],
    thresholds: [],
    timeline,
    resources,
    host: { name: `host-${index}`, lateMs: 0, clock: { offsetMs: index * 0.1, rttMs: 0.2 } },
  };
}

/** `dcpbench merge` under GNU time: wall seconds and peak RSS in MB. */
function mergeUnderTime(files: string[], out: string): Promise<{ sec: number; rssMb: number }> {
  const child = spawn(
    "/usr/bin/time",
    ["-f", "TIME %e %M", process.execPath, ...BIN_FLAGS, CLI, "merge", ...files, "--out", out],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  return new Promise((resolve, reject) =>
    child.on("exit", (code) => {
      const m = /TIME ([\d.]+) (\d+)/.exec(err);
      if (code !== 0 || !m) reject(new Error(`merge failed (${code}): ${err}`));
      else resolve({ sec: Number(m[1]), rssMb: Number(m[2]) / 1024 });
    }),
  );
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  const child = spawn(process.execPath, [...BIN_FLAGS, CLI, ...args], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code: code ?? 1, stderr })));
}

async function main(): Promise<void> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "dcpbench-bench-merge-"));
  chmodSync(dir, 0o755); // the stack's server runs as the postgres user when we are root
  const lines: string[] = [];
  const say = (line = "") => {
    lines.push(line);
    process.stderr.write(line + "\n");
  };
  try {
    const files = Array.from({ length: SHARDS }, (_, i) => {
      const file = join(dir, `shard-${i}.json`);
      writeFileSync(file, JSON.stringify(syntheticShard(i)));
      return file;
    });
    const inMb = files.reduce((n, f) => n + statSync(f).size, 0) / 1e6;
    const runs = [];
    for (let r = 0; r < 3; r++) runs.push(await mergeUnderTime(files, join(dir, "merged.json")));
    const outMb = statSync(join(dir, "merged.json")).size / 1e6;
    const merged = JSON.parse(readFileSync(join(dir, "merged.json"), "utf8")) as ResultFile;
    if (merged.summary[CYCLE].count !== SHARDS * INTERVALS * 100)
      throw new Error("the synthetic merge lost counts");

    // A real fleet of three, on one host: the shards as the Kubernetes Job starts them.
    const stackDir = join(dir, "stack");
    const { status } = await benchStack({ dir: stackDir, portBase: await freeBase() });
    const env = { ...process.env, PGPASSFILE: status.pgpassfile };
    const duration = quick ? "3s" : "20s";
    // Far enough ahead that three shards get ready in time on a busy machine: while the suite runs four benches
    // at once, a shard once took more than 20 s to get ready, and 15 s ahead failed a clean-clone run).
    const startAt = new Date(Date.now() + (quick ? 45_000 : 15_000)).toISOString();
    const shardRuns = await Promise.all(
      [0, 1, 2].map((i) =>
        cli(
          [
            "run",
            "select1",
            "--uri",
            status.uris.pooled,
            "--txn-pooling",
            "--conns",
            "24",
            "--rate",
            "600",
            "--duration",
            duration,
          ].concat([
            "--shard",
            `${i}/3`,
            "--start-at",
            startAt,
            "--label",
            "fleet",
            "--progress",
            "off",
            "--out",
            join(dir, `real-${i}`),
          ]),
          env,
        ),
      ),
    );
    for (const r of shardRuns) if (r.code !== 0) throw new Error(r.stderr);
    const realFiles = [0, 1, 2].map((i) => {
      const d = join(dir, `real-${i}`);
      return join(
        d,
        readdirSync(d).find((f) => f.endsWith(".json"))!,
      );
    });
    const merge = await cli(["merge", ...realFiles, "--out", join(dir, "real.json")], env);
    if (merge.code !== 0) throw new Error(merge.stderr);
    const real = JSON.parse(readFileSync(join(dir, "real.json"), "utf8")) as ResultFile;
    const parts = realFiles.map((f) => JSON.parse(readFileSync(f, "utf8")) as ResultFile);

    say(MERGE_BEGIN);
    say(`## 10. Merging shards: \`dcpbench merge\``);
    say();
    say(
      `Measured at ${commit()} on ${new Date().toISOString().slice(0, 10)} by \`npm run bench:merge\` (bench/merge.ts).`,
    );
    say();
    say(
      `${SHARDS} synthetic shards × ${INTERVALS} one-second intervals, ${OPS.length} ops each with a histogram per interval ` +
        `(${inMb.toFixed(1)} MB of shard files; the merged file ${outMb.toFixed(1)} MB): \`dcpbench merge\` under GNU time, 3 runs: ` +
        `wall ${runs.map((r) => r.sec.toFixed(2)).join(", ")} s (median **${median(runs.map((r) => r.sec)).toFixed(2)} s**), ` +
        `peak RSS ${runs.map((r) => r.rssMb.toFixed(0)).join(", ")} MB (median **${median(runs.map((r) => r.rssMb)).toFixed(0)} MB**).`,
    );
    say();
    const c = real.summary[CYCLE];
    say(
      `Three shards of \`dcpbench run select1 --conns 24 --rate 600 --duration ${duration} --shard i/3 --start-at T\` through the bench's ` +
        `own stack's PgBouncer, merged: ${c.count} cycles (shards ${parts.map((p) => p.summary[CYCLE].count).join(" + ")}), ` +
        `**${c.rate.toFixed(1)}/s** (600 planned), p50 ${c.p50} ms, p99 ${c.p99} ms (shards' p99 ${parts.map((p) => p.summary[CYCLE].p99).join(", ")} ms), ` +
        `missed starts ${real.counters.missed}, ${real.timeline.length} intervals on one grid; clock offsets against the server ` +
        `${parts.map((p) => p.host?.clock?.offsetMs.toFixed(2)).join(", ")} ms (spread ${real.merge?.clockSpreadMs} ms; one host, so this is the method's noise), ` +
        `lateness ${parts.map((p) => p.host?.lateMs).join(", ")} ms.`,
    );
    say();
    say(`(The bench took ${((Date.now() - started) / 1000).toFixed(0)} s.)`);
    say(MERGE_END);
    const section = lines.join("\n");
    if (outFile) writeFileSync(outFile, section + "\n");
    else if (!quick) {
      const old = readFileSync("BENCHMARKS.md", "utf8");
      const kept = keptSection(old, MERGE_BEGIN, MERGE_END);
      writeFileSync("BENCHMARKS.md", kept ? old.replace(kept, section) : `${old.trimEnd()}\n\n${section}\n`);
    }
  } finally {
    // Whatever failed, the stack's processes go with it (a shard's exit would leave them running).
    await stackDown(join(dir, "stack")).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:merge failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
