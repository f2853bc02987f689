/**
 * What the database paid (issue 15), measured: the samplers' own cost, pg_stat_statements' cost, and the
 * seed's side-by-side table for PostgreSQL on this machine. Writes its section into BENCHMARKS.md (between
 * its markers, which `npm run bench` keeps), or the whole of --out:
 *
 *   npm run bench:server                          # about 8 minutes
 *   npm run bench:server -- --quick --out /tmp/s.md
 *
 * Everything runs against stacks of its own (temp dirs, free ports), started and stopped here.
 */
import type { ConnectionState } from "../src/schema/window.js";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { Observer } from "../src/observe/observer.js";
import { childrenOf, procUsage } from "../src/observe/proc-usage.js";
import { ServerSideSampler } from "../src/observe/server-side.js";
import { OBSERVER_APP } from "../src/observe/statements.js";
import { compareResults } from "../src/results/compare/compare.js";
import type { ResultFile } from "../src/schema/result.js";
import { stackPaths, type StackConfig } from "../src/stack/layout.js";
import { readStackConfig } from "../src/stack/layout.js";
import { stackDown, type StackStatus } from "../src/stack/stack.js";
import {
  BIN_FLAGS,
  CLI,
  commit,
  freeBase,
  median,
  SERVER_SIDE_BEGIN as BEGIN,
  SERVER_SIDE_END as END,
  benchStack,
} from "./util.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const outFile = args.includes("--out") ? args[args.indexOf("--out") + 1] : undefined;

const S = quick
  ? { pairs: 1, pairSec: 2, tpcbScale: 1, flightScale: 0.01, seedConns: 64, seedSec: 3, ticks: 5 }
  : { pairs: 7, pairSec: 15, tpcbScale: 10, flightScale: 1, seedConns: 512, seedSec: 30, ticks: 60 };

const lines: string[] = [];
const say = (s = "") => {
  lines.push(s);
  process.stderr.write(s + "\n");
};

interface Stack {
  dir: string;
  status: StackStatus;
  cfg: StackConfig;
  env: NodeJS.ProcessEnv;
}

async function up(ha: boolean): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "dcpbench-bench-srv-"));
  chmodSync(dir, 0o755);
  const { status } = await benchStack({ dir, ha, poolSize: 64, portBase: await freeBase() });
  const env = { ...process.env, PGPASSFILE: status.pgpassfile, DCPBENCH_STACK_DIR: dir };
  return { dir, status, cfg: readStackConfig(stackPaths(dir))!, env };
}

let n = 0;
/** `dcpbench ARGS` as the bin runs it; the result it wrote. */
function dcpbench(stack: Stack, argv: string[]): Promise<ResultFile> {
  const out = join(stack.dir, "results", String(++n));
  return new Promise((resolve, reject) => {
    const run = argv[0] === "run";
    const all = [...BIN_FLAGS, CLI, ...argv, ...(run ? ["--progress", "off", "--out", out] : [])];
    const child = spawn(process.execPath, all, {
      env: stack.env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`dcpbench ${argv.join(" ")} exited ${code}: ${stderr}`));
      if (!run) return resolve(undefined as unknown as ResultFile);
      const file = readdirSync(out).find((f) => f.endsWith(".json"))!;
      resolve(JSON.parse(readFileSync(join(out, file), "utf8")) as ResultFile);
    });
  });
}

/** As the superuser, over the stack's socket (pg_stat_statements.track is a superuser setting). */
async function superuser(stack: Stack, sql: string): Promise<void> {
  const client = new pg.Client({
    host: stackPaths(stack.dir).pgSocket,
    port: stack.cfg.ports.postgres,
    user: "postgres",
    database: "postgres",
  });
  await client.connect();
  try {
    await client.query(sql);
    await client.query("SELECT pg_reload_conf()");
  } finally {
    await client.end();
  }
}

const pct = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}%`;

/** Interleaved pairs (A then B, then B then A, …) of select-only runs; per pair B's TPS over A's. */
async function pairs(
  stack: Stack,
  name: [string, string],
  setup: [() => Promise<string[]>, () => Promise<string[]>],
): Promise<void> {
  const ratios: number[] = [];
  say(`| pair | ${name[0]} TPS | ${name[1]} TPS | ${name[1]} / ${name[0]} |`);
  say("|---|---:|---:|---:|");
  for (let i = 0; i < S.pairs; i++) {
    const tps: number[] = [0, 0];
    for (const which of i % 2 === 0 ? [0, 1] : [1, 0]) {
      const extra = await setup[which]();
      const r = await dcpbench(stack, [
        "run",
        "tpcb",
        "--uri",
        stack.status.uris.direct,
        "--set",
        "script=select-only",
        "--conns",
        "8",
        "--workers",
        "2",
        "--duration",
        `${S.pairSec}s`,
        ...extra,
      ]);
      tps[which] = r.summary.__cycle__.rate;
    }
    ratios.push(tps[1] / tps[0] - 1);
    say(`| ${i + 1} | ${tps[0].toFixed(0)} | ${tps[1].toFixed(0)} | ${pct(ratios.at(-1)!)} |`);
  }
  say();
  say(`- median of the pairs: **${pct(median(ratios))}** (${name[1]} against ${name[0]})`);
  say();
}

/** CPU ms of the processes of `pids` (user + system), from /proc. */
function cpuMs(pids: number[]): number {
  return pids.reduce((n, pid) => {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8");
    const x = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return n + (Number(x[11]) + Number(x[12])) * 10;
  }, 0);
}

/**
 * The samplers' own CPU per interval, counted directly (less noisy than a TPS difference): this process's CPU
 * for the ticks (the /proc reads run here, as in the runner), and the CPU of the samplers' backends.
 */
async function samplerCost(stack: Stack, clients: number): Promise<void> {
  const uri = stack.status.uris.direct;
  // The samplers and these clients find the password as libpq would.
  process.env.PGPASSFILE = stack.status.pgpassfile;
  const idle = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new pg.Client({ connectionString: uri });
      await c.connect();
      return c;
    }),
  );
  const pm = Number(readFileSync(stackPaths(stack.dir).pgPid, "utf8").split("\n")[0]);
  const observer = await Observer.start(
    {
      observeUri: uri,
      pgbouncerAdmins: [],
      appName: "x",
      database: "dcpbench",
      dialect: "postgres",
      intervalMs: 3_600_000,
    },
    () => {},
  );
  const server = await ServerSideSampler.start(
    {
      uri,
      role: "dcpbench",
      appName: "x",
      dialect: "postgres",
      intervalMs: 3_600_000,
      postmaster: { pid: () => pm },
      poolers: [],
    },
    () => {},
  );
  await server.markStart(Date.now());
  const probe = idle[0];
  const { rows } = await probe.query(
    `SELECT pid FROM pg_stat_activity WHERE application_name = '${OBSERVER_APP}'`,
  );
  const backends = rows.map((r: { pid: number }) => r.pid);
  const b0 = cpuMs(backends);
  const c0 = process.cpuUsage();
  for (let i = 0; i < S.ticks; i++) await Promise.all([observer.tick(), server.tick()]);
  const c = process.cpuUsage(c0);
  const b = cpuMs(backends) - b0;
  const own = (c.user + c.system) / 1000 / S.ticks;
  // The PSS estimate against reading every process once (the samplers read the root, the auxiliaries and 8 backends).
  const kids = childrenOf(pm);
  const pss = (pid: number) =>
    Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  const fullMb = [pm, ...kids].reduce((n2, pid) => n2 + pss(pid), 0) / 1024;
  const estimates = Array.from({ length: 12 }, (_, t) => procUsage(pm, 8, t)!.pssMb!);
  const worst = Math.max(...estimates.map((e) => Math.abs(e / fullMb - 1)));
  await observer.stop();
  await server.stop();
  await Promise.all(idle.map((cl) => cl.end()));
  say(
    `- the samplers' own CPU per interval, ${clients} client sessions open, mean of ${S.ticks} intervals: ` +
      `**${own.toFixed(1)} ms** in the runner (the /proc reads) + **${(b / S.ticks).toFixed(1)} ms** in their backends ` +
      `(the queries): ${(((own + b / S.ticks) / 1000) * 100).toFixed(2)}% of one CPU at one interval a second. ` +
      `PSS of all ${kids.length + 1} processes read one by one: ${fullMb.toFixed(1)} MB; the samplers' estimate, ` +
      `12 turns: ${Math.min(...estimates).toFixed(1)}–${Math.max(...estimates).toFixed(1)} MB (at worst ${(worst * 100).toFixed(1)}% off).`,
  );
}

async function overheads(): Promise<void> {
  const stack = await up(false);
  try {
    await dcpbench(stack, [
      "init",
      "tpcb",
      "--scale",
      String(S.tpcbScale),
      "--uri",
      stack.status.uris.direct,
    ]);
    say(`## 6. What sampling the server costs: tpcb select-only, 8 clients, ${S.pairs} interleaved pair(s)`);
    say();
    say(
      `Each pair: \`dcpbench run tpcb --set script=select-only --conns 8 --workers 2 --duration ${S.pairSec}s\`, direct, ` +
        "with `--no-observe` and with the samplers on (the default: pg_stat_activity, pg_stat_database, " +
        "pg_stat_wal and /proc every second, pg_stat_statements at the start and the end), in alternating order.",
    );
    say();
    await pairs(stack, ["sampling off", "sampling on"], [async () => ["--no-observe"], async () => []]);
    await samplerCost(stack, 8);
    await samplerCost(stack, 512);
    say();
    say(`## 7. What pg_stat_statements costs: the same workload, ${S.pairs} interleaved pair(s)`);
    say();
    say(
      "Each pair: the same run with `--no-observe`, once with `pg_stat_statements.track = none` and once with " +
        "`top` (the stack's setting), set with ALTER SYSTEM and a reload between the runs.",
    );
    say();
    const track = (v: string) => async () => {
      await superuser(stack, `ALTER SYSTEM SET pg_stat_statements.track = '${v}'`);
      return ["--no-observe"];
    };
    await pairs(stack, ["track = none", "track = top"], [track("none"), track("top")]);
  } finally {
    await stackDown(stack.dir).catch(() => undefined);
  }
}

async function seedTable(): Promise<void> {
  const stack = await up(true);
  try {
    const direct = stack.status.uris.direct;
    await dcpbench(stack, ["init", "flight", "--scale", String(S.flightScale), "--uri", direct]);
    const flight = (uri: string, extra: string[]) =>
      dcpbench(
        stack,
        ["run", "flight", "--uri", uri, "--conns", String(S.seedConns), "--workers", "2"].concat([
          "--duration",
          `${S.seedSec}s`,
          ...extra,
        ]),
      );
    const d = await flight(direct, []);
    const p = await flight(stack.status.uris.pooled, ["--txn-pooling"]);
    const c = compareResults(["direct", "pooled"], [d, p]);
    say(
      `## 8. The seed's table for PostgreSQL: flight, ${S.seedConns} clients over 2 workers, direct vs pooled`,
    );
    say();
    say(
      `\`dcpbench init flight --scale ${S.flightScale}\`, then \`dcpbench run flight --conns ${S.seedConns} ` +
        `--workers 2 --duration ${S.seedSec}s\` directly, and the same through HAProxy in front of two ` +
        "PgBouncers × 64 server connections (`stack up --ha --pool-size 64`, the seed's pooled topology) with " +
        "`--txn-pooling`. One run each, direct first, then pooled on the tables the direct run updated; the simple query protocol in both.",
    );
    say();
    say("| metric | direct | pooled | change |");
    say("|---|---:|---:|---:|");
    const cyc = (r: ResultFile) => r.summary.__cycle__;
    const row = (name: string, a: number | undefined, b: number | undefined, unit: string, digits = 2) => {
      const f = (v: number | undefined) => (v === undefined ? "-" : `${v.toFixed(digits)}${unit}`);
      const ch = a !== undefined && b !== undefined && a !== 0 ? pct(b / a - 1) : "-";
      say(`| ${name} | ${f(a)} | ${f(b)} | ${ch} |`);
    };
    row("cycles/s (client side)", cyc(d).rate, cyc(p).rate, "", 1);
    row("cycle p50 (client side)", cyc(d).p50, cyc(p).p50, " ms");
    row("cycle p99 (client side)", cyc(d).p99, cyc(p).p99, " ms");
    row(
      "server sessions (max)",
      d.observed?.series.db_sessions?.max,
      p.observed?.series.db_sessions?.max,
      "",
      0,
    );
    for (const r of c.serverSide) {
      const unit = r.unit === "%" ? "%" : r.unit === "/s" ? "/s" : r.unit ? ` ${r.unit}` : "";
      row(r.name, r.values[0], r.values[1], unit);
    }
    say();
    const top = (r: ResultFile) => r.serverSide?.topStatements[0];
    say(
      `- slowest statement in total, direct: \`${top(d)?.query.slice(0, 80)}\` (${top(d)?.meanMs} ms mean); ` +
        `pooled: \`${top(p)?.query.slice(0, 80)}\` (${top(p)?.meanMs} ms mean).`,
    );
    // How each window was measured: what ended its warm-up, the connections at its edges, the generator.
    for (const [name, r] of [
      ["direct", d],
      ["pooled", p],
    ] as const) {
      const w = r.window;
      const conns = (x: ConnectionState | undefined) =>
        x?.poolerServerConns !== undefined
          ? `${x.poolerServerConns} pooler server connections`
          : `${x?.dbSessions ?? "?"} backends`;
      say(
        `- ${name}'s window: ${w ? `${w.seconds} s from ${w.from} s; warm-up ${w.warmup.endedBy} (${w.warmup.detail}); ${conns(w.atStart)} at its start, ${conns(w.atEnd)} at its end; ${w.drained} cycles drained, ${w.cutOff} cut off` : "not recorded"}; load generator ${r.generator?.starved ? `STARVED: ${r.generator.reasons.join("; ")}` : `not starved (busiest worker ${r.generator?.busiestWorkerPct ?? "?"}% of a core)`}.`,
      );
    }
    say(
      "- What PostgreSQL cannot show of the seed's 17 (CockroachDB) metrics: KV latency, admission control, " +
        "SQL memory and scheduling latency are CockroachDB's own; read/write IOPS are read here as bytes from " +
        "/proc (`readMb`/`writeMb` in the result).",
    );
    say();
  } finally {
    await stackDown(stack.dir).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  say(BEGIN);
  say();
  say(
    `Written by \`npm run bench:server${quick ? " -- --quick" : ""}\` (bench/server-side.ts) on ` +
      `${new Date().toISOString()}, at commit ${commit()}.`,
  );
  say();
  await overheads();
  await seedTable();
  say(`Total time: ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  say();
  say(END);
  const section = lines.join("\n");
  if (outFile) writeFileSync(outFile, section + "\n");
  else {
    const old = existsSync("BENCHMARKS.md") ? readFileSync("BENCHMARKS.md", "utf8") : "";
    const a = old.indexOf(BEGIN);
    const b = old.indexOf(END);
    const next =
      a >= 0 && b > a
        ? old.slice(0, a) + section + old.slice(b + END.length)
        : `${old.trimEnd()}\n\n${section}\n`;
    writeFileSync("BENCHMARKS.md", next);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench:server: ${err.message}\n`);
  process.exit(1);
});
