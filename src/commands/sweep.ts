import { readFileSync } from "node:fs";
import { windowNotes } from "../results/window-notes.js";
import { join } from "node:path";
import type { CommandModule } from "yargs";
import { CliError, ThresholdCrossed, UsageError } from "../errors.js";
import { redactUri } from "../db/uri.js";
import { parseDuration } from "../options/units.js";
import { evaluateSweepGates, parseSweepGate } from "../results/sweeps/gates.js";
import { loadSweepPoints, readSweepIndex } from "../results/sweeps/index-file.js";
import { seriesOf, sweepSeries } from "../results/sweeps/summary.js";
import { crossoverLines, sweepTable } from "../results/sweeps/table.js";
import { processInterrupts } from "../runner/interrupts.js";
import type { SweepPlan } from "../schema/sweep.js";
import { defaultStackDir } from "../stack/default-dir.js";
import {
  MAX_PGBOUNCER_PROCS,
  readStackConfig,
  stackPaths,
  stackRole,
  stackUris,
  type StackConfig,
} from "../stack/layout.js";
import { setStackPgbouncerProcs } from "../stack/stack.js";
import { closeStackServerConnections, setStackPoolSize, stackForPoolSizes } from "../stack/pooler-control.js";
import { runSweep, type SweepOutcome } from "../sweep/execute.js";
import { clearLeftovers } from "../db/leftovers.js";
import { buildSweep } from "../sweep/points.js";
import {
  checkTargets,
  parseCounts,
  parseTarget,
  planDifference,
  pointOrder,
  type LiveTarget,
} from "../sweep/plan.js";
import { cyclesChangeData, initScale, initWorkload, requireInitialised } from "../workload/init.js";
import { resolveKnobs } from "../workload/knobs.js";
import { loadWorkload, resolveWorkloadRef } from "../workload/registry.js";
import type { Workload } from "../api.js";
import { loadOptions, workloadArg } from "./load-options.js";
import { observeTargets, type RunArgs } from "./run-options.js";
import { usePgpassOf } from "./target.js";

type SweepArgs = Omit<RunArgs, "conns" | "fault" | "threshold" | "label" | "txnPooling" | "uri"> & {
  conns: string;
  target: string[];
  poolSize?: string;
  pgbouncerProcs?: string;
  repeat: number;
  pause: string;
  reinit: boolean;
  resume?: string;
  failIf?: string[];
};

const say = (line: string) => process.stderr.write(line + "\n");

/** --target as given, else the local stack's direct and pooled URIs. */
function targetsOf(args: SweepArgs): LiveTarget[] {
  const given = args.target.map(String).map(parseTarget);
  const stackDir = args.stackDir ?? defaultStackDir();
  usePgpassOf(stackDir);
  if (given.length === 0) {
    const paths = stackPaths(stackDir);
    const cfg = readStackConfig(paths);
    if (!cfg)
      throw new UsageError(
        "no --target and no local stack: give --target NAME=URI (twice or more), or 'dcpbench stack up'",
      );
    const uris = stackUris(cfg, paths);
    given.push({ name: "direct", liveUri: uris.direct, txnPooling: false });
    given.push({ name: "pooled", liveUri: uris.pooled, txnPooling: true });
  }
  checkTargets(given);
  return given.map((t) => ({ ...t, uri: redactUri(t.liveUri) }));
}

/**
 * A sweep over pool sizes or PgBouncer processes changes the stack's own PgBouncers: every pooled target must
 * be one of them.
 */
function checkStackPoolerTargets(targets: LiveTarget[], option: string, cfg: StackConfig): void {
  const pooled = targets.filter((t) => t.txnPooling);
  if (pooled.length === 0) throw new UsageError(`${option} needs a target marked ,txn-pooling`);
  for (const t of pooled) {
    if (stackRole(cfg, t.liveUri) !== "pooler")
      throw new UsageError(
        `${option} changes the local stack's PgBouncer; target '${t.name}' (${t.uri}) is not the stack's pooler`,
      );
  }
}

function parseProcs(text: string | undefined, stackDir: string): number[] | undefined {
  if (text === undefined) return undefined;
  const procs = parseCounts(text, "--pgbouncer-procs");
  if (procs.some((n) => n > MAX_PGBOUNCER_PROCS))
    throw new UsageError(`--pgbouncer-procs: at most ${MAX_PGBOUNCER_PROCS} processes per PgBouncer node`);
  const cfg = readStackConfig(stackPaths(stackDir));
  if (!cfg)
    throw new UsageError(
      `--pgbouncer-procs changes the local stack's PgBouncer, and there is none in ${stackDir}`,
    );
  if (Math.max(...procs) > cfg.poolSize)
    throw new UsageError(
      `--pgbouncer-procs ${Math.max(...procs)}: more processes than the pool's ${cfg.poolSize} server connections`,
    );
  return procs;
}

/** What only a sweep has (client counts, pool sizes, repeats, pause); the rest is each point's run options. */
function sweepShape(args: SweepArgs) {
  if (!Number.isInteger(args.repeat) || args.repeat < 1)
    throw new UsageError(`--repeat must be a positive integer, got ${args.repeat}`);
  return {
    conns: parseCounts(args.conns, "--conns"),
    poolSizes: args.poolSize !== undefined ? parseCounts(args.poolSize, "--pool-size") : null,
    pgbouncerProcs: parseProcs(args.pgbouncerProcs, args.stackDir ?? defaultStackDir()),
    repeat: args.repeat,
    pauseMs: parseDuration(args.pause, "--pause"),
    // A sweep's points stop after 30 s unless told otherwise: a sweep must end.
    duration: args.duration ?? (args.iterations === undefined ? "30s" : undefined),
  };
}

export const sweepCommand: CommandModule<object, SweepArgs> = {
  command: "sweep <workload>",
  describe:
    "many runs: client counts × targets (× PgBouncer pool sizes × processes), repeated (each --duration, default 30s); the curve and the crossover",
  builder: (y) =>
    loadOptions(
      workloadArg(y)
        .option("conns", {
          type: "string",
          default: "8,32,128,512",
          describe: "client counts, comma-separated: one point each",
        })
        .option("target", {
          type: "string",
          array: true,
          default: [],
          describe:
            "NAME=URI, or NAME=URI,txn-pooling for a transaction pooler (repeatable) [default: the local stack's direct and pooled]",
        })
        .option("pool-size", {
          type: "string",
          describe:
            "PgBouncer default_pool_size values to sweep for the pooled targets (local stack only): 16,32,64",
        })
        .option("pgbouncer-procs", {
          type: "string",
          describe:
            "PgBouncer processes per node to sweep for the pooled targets (local stack only; restarts its PgBouncers, the pool split between them): 1,2",
        })
        .option("repeat", { type: "number", default: 3, describe: "runs per point, spread over the sweep" }),
    )
      .option("pause", {
        type: "string",
        default: "2s",
        describe: "between points, for the server to close sessions",
      })
      .option("reinit", {
        type: "boolean",
        default: false,
        describe: "re-initialise the workload's tables (at the scale init used) before every point",
      })
      .option("out", {
        type: "string",
        describe: "directory for the points' result files and the index [default: results]",
      })
      .option("resume", {
        type: "string",
        describe:
          "continue the sweep of this index (give the same options): finished points are not run again",
      })
      .option("fail-if", {
        type: "string",
        array: true,
        default: [],
        describe:
          "exit 3 when it holds, medians over repeats: 'pooled.throughput@512<direct', 'pooled.p99@512>direct+10%'",
      })
      .option("stack-dir", {
        type: "string",
        describe: "the local stack [default: $DCPBENCH_STACK_DIR or .dcpbench/stack]",
      })
      .example(
        "$0 sweep tpcb --set script=select-only --conns 8,64,256 --duration 20s",
        "direct vs pooled on the local stack",
      )
      .example(
        "$0 sweep flight --target direct=$DIRECT --target pooled=$POOLED,txn-pooling --conns 64,512 --repeat 3",
        "your own servers",
      )
      .example(
        "$0 sweep tpcb --conns 64,512 --pool-size 16,64 --fail-if 'pooled:64.throughput@512<direct'",
        "pool sizes, a CI gate",
      )
      .example(
        "$0 sweep tpcb --set script=select-only --conns 64,256,1024 --pgbouncer-procs 1,2",
        "one PgBouncer process against two on one port (lines pooled:x1, pooled:x2)",
      ),
  handler: async (args) => {
    const stackDir = args.stackDir ?? defaultStackDir();
    const targets = targetsOf(args);
    const workloadRef = resolveWorkloadRef(args.workload);
    const workload = await loadWorkload(workloadRef);
    const knobs = resolveKnobs(workload.name, workload.knobs, args.args, args.set.map(String));
    const shape = sweepShape(args);
    const outDir = args.out ?? "results";
    const resumed = args.resume !== undefined ? readSweepIndex(args.resume) : undefined;
    const { plan, runPlans } = buildSweep({
      run: { ...args, duration: shape.duration },
      workload,
      workloadRef,
      knobs,
      targets,
      ...shape,
      reinit: args.reinit,
      pointsDir: resumed ? join(args.resume!, "..") : outDir,
    });
    if (plan.poolSizes)
      checkStackPoolerTargets(targets, "--pool-size", stackForPoolSizes(stackDir, plan.poolSizes));
    if (plan.pgbouncerProcs)
      checkStackPoolerTargets(targets, "--pgbouncer-procs", readStackConfig(stackPaths(stackDir))!);
    const keys = seriesOf(plan).map((s) => s.key);
    const gates = (args.failIf ?? []).map(String).map((g) => parseSweepGate(g, keys, plan.conns));
    if (resumed) {
      const diff = planDifference(resumed.plan, plan);
      if (diff)
        throw new UsageError(
          `--resume ${args.resume}: this sweep differs from the index in ${diff}; give the same options`,
        );
    }
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z");
    const indexPath =
      args.resume ?? join(outDir, `sweep_${workload.name.replace(/[^\w.-]/g, "_")}_${stamp}.json`);
    for (const t of targets) await requireInitialised(workload, t.liveUri);
    const reinit = args.reinit ? await reinitFor(workload, targets) : undefined;
    const changes = cyclesChangeData(workload, knobs);
    if (!args.reinit && changes)
      say(`sweep: not re-initialising ${workload.name} between points (--reinit to do so): ${changes}`);

    const cfg = readStackConfig(stackPaths(stackDir));
    const originalPool = plan.poolSizes ? cfg!.poolSize : undefined;
    const originalProcs = plan.pgbouncerProcs ? (cfg!.pgbouncerProcs ?? 1) : undefined;
    const pooledOnStack = cfg && targets.some((t) => stackRole(cfg, t.liveUri) === "pooler");
    // Where earlier points' sessions can be seen: the server itself, through the first direct target.
    const serverUri = targets.find((t) => !t.txnPooling)?.liveUri;
    const appNames = [...runPlans.values()].map((p) => p.appName);
    const settle = async () => {
      if (serverUri) await clearLeftovers(serverUri, appNames, "earlier points", (l) => say(`sweep: ${l}`));
      if (!pooledOnStack) return;
      const left = await closeStackServerConnections(stackDir);
      if (left > 0)
        say(`sweep: the stack's PgBouncer still holds ${left} server connection(s) after RECONNECT`);
    };
    let outcome;
    try {
      outcome = await runSweep({
        plan,
        indexPath,
        resumed,
        runPlans,
        runOptions: (_p, runPlan) => ({
          observe: observeTargets(runPlan.uri, args, stackDir),
          checkTarget: undefined,
          prometheusPort: args.prometheusPort,
          prometheusHost: args.prometheusHost,
        }),
        setPoolSize: (size) => setStackPoolSize(stackDir, size),
        setPgbouncerProcs: async (procs) => {
          say(`sweep: restarting the stack's PgBouncer with ${procs} process(es) per node`);
          await setStackPgbouncerProcs(stackDir, procs);
        },
        settle,
        reinit,
        say,
        interrupts: processInterrupts,
      });
    } finally {
      if (originalProcs !== undefined)
        await setStackPgbouncerProcs(stackDir, originalProcs).catch((err: Error) =>
          say(`sweep: could not put PgBouncer back to ${originalProcs} process(es): ${err.message}`),
        );
      if (originalPool !== undefined)
        await setStackPoolSize(stackDir, originalPool).catch((err: Error) =>
          say(`sweep: could not put PgBouncer's pool size back to ${originalPool}: ${err.message}`),
        );
    }
    report(indexPath, plan, gates, outcome, args.json ?? false);
  },
};

/** --reinit, through the first direct target (else the first): the tables every target reaches, when they share a server. */
async function reinitFor(
  workload: Workload,
  targets: LiveTarget[],
): Promise<(interrupt: AbortSignal) => Promise<void>> {
  if (!workload.init)
    throw new UsageError(`--reinit: workload ${workload.name} has no tables to re-initialise`);
  const uri = (targets.find((t) => !t.txnPooling) ?? targets[0]).liveUri;
  const scale = await initScale(workload, uri);
  if (scale === undefined)
    throw new UsageError(
      `--reinit: the scale ${workload.name} was initialised at is not recorded (tables not made by dcpbench init): run 'dcpbench init ${workload.name} --drop' first`,
    );
  return async (interrupt) => {
    await initWorkload(workload, { uri, scale, drop: true, log: () => {}, interrupt });
  };
}

function report(
  indexPath: string,
  plan: SweepPlan,
  gates: ReturnType<typeof parseSweepGate>[],
  outcome: SweepOutcome,
  json: boolean,
): void {
  const index = readSweepIndex(indexPath);
  const loaded = loadSweepPoints(indexPath, index);
  const series = sweepSeries(plan, loaded);
  const human = json ? process.stderr : process.stdout;
  human.write(`${sweepTable(series)}\n`);
  for (const line of crossoverLines(series)) human.write(line + "\n");
  // A point its load generator bounded, or measured while its pools filled, weighs on any crossover near it.
  for (const { result } of loaded) for (const note of windowNotes(result)) human.write(`note: ${note}\n`);
  human.write(`sweep index: ${indexPath}\n`);
  human.write(`curves: dcpbench report ${indexPath} --html sweep.html\n`);
  if (json) process.stdout.write(readFileSync(indexPath, "utf8"));
  const resume = `continue it with the same options and --resume ${indexPath}`;
  if (outcome.interrupted) {
    const done = index.points.filter((p) => p.file !== null && !p.partial && !p.error).length;
    say(`sweep interrupted after ${done} of ${pointOrder(plan).length} points; ${resume}`);
    throw new CliError("sweep interrupted", outcome.interrupted === "SIGTERM" ? 143 : 130);
  }
  if (outcome.failure) throw new CliError(`sweep stopped: ${outcome.failure}; ${resume}`, 1);
  const failures = evaluateSweepGates(gates, series);
  for (const f of failures) say(`FAIL ${f.gate}: ${f.message}`);
  if (gates.length > 0 && failures.length === 0) say(`all ${gates.length} gates passed`);
  if (failures.length > 0) throw new ThresholdCrossed(`${failures.length} sweep gate(s) crossed`);
  if (!index.complete)
    throw new CliError(`some points failed (see ${indexPath}); ${resume} to run them again`, 1);
}
