import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { CommandModule } from "yargs";
import { UsageError } from "../errors.js";
import { buildPlan } from "../plan.js";
import { windowNotes } from "../results/window-notes.js";
import { opWaitLines } from "../results/op-waits.js";
import { availabilityLine, idleLine, parameterTable, summaryTable, vipLine } from "../results/tables.js";
import { executeRun } from "../run/execute.js";
import { processInterrupts } from "../runner/interrupts.js";
import { requireInitialised } from "../workload/init.js";
import { resolveKnobs } from "../workload/knobs.js";
import { loadWorkload, resolveWorkloadRef } from "../workload/registry.js";
import { loadOptions, workloadArg } from "./load-options.js";
import { observeTargets, planFaults, type RunArgs } from "./run-options.js";
import { targetUri, txnPoolingFor } from "./target.js";

export const runCommand: CommandModule<object, RunArgs> = {
  command: "run <workload>",
  describe: "run a workload: forked workers, N clients each, HDR latency percentiles, a result file",
  builder: (y) =>
    loadOptions(
      workloadArg(y)
        .option("uri", {
          type: "string",
          describe: "target (also $PGURI, $DATABASE_URL, libpq env; default: the local stack, direct)",
        })
        .option("conns", { type: "number", describe: "total clients [default: 8]" }),
    )
      .option("txn-pooling", {
        type: "boolean",
        describe:
          "target is a transaction pooler: no named prepared statements [default: yes for the local stack's pooler URIs]",
      })
      .option("label", {
        type: "string",
        describe: "name of this run [default: pooled with --txn-pooling, else direct]",
      })
      .option("out", { type: "string", describe: "directory for the result files [default: results]" })
      .option("app-name", { type: "string", describe: "application_name [default: dcpbench-<label>]" })
      .option("pgbouncer-admin", {
        type: "string",
        describe:
          "PgBouncer admin URI(s), comma-separated, for SHOW POOLS/STATS [default: the local stack's, for a pooled run]",
      })
      .option("shard", {
        type: "string",
        describe:
          "I/N: run shard I (0-based) of N of this plan: its share of --conns and --rate, client ids disjoint across shards; 'dcpbench merge' adds the shards' results",
      })
      .option("start-at", {
        type: "string",
        describe:
          "start the measured window at this time (RFC 3339 with offset, or +30s): clients connect before it, intervals fall on its grid; a shard that is late starts at once and says so",
      })
      .option("fault", {
        type: "string",
        array: true,
        default: [],
        describe:
          "drive the local stack during the run: 'at=20s kill pgbouncer-1 signal=KILL', 'at=40s start pgbouncer-1'; " +
          "--vip nodes also: poweroff, isolate, rejoin, move ('at=10s poweroff node-a')",
      })
      .option("faults", {
        type: "string",
        describe: "a scenario file (.json / .yaml): a list of --fault strings",
      })
      .option("stack-dir", {
        type: "string",
        describe: "the local stack the faults act on [default: $DCPBENCH_STACK_DIR or .dcpbench/stack]",
      })
      .option("threshold", {
        type: "string",
        array: true,
        default: [],
        describe:
          "condition that must hold at the end, e.g. 'process.p99<2s', 'errors.rate<0.01' (exit 3 if not)",
      })
      .example("$0 run select1 --conns 64 --duration 30s", "closed loop against the local stack")
      .example(
        '$0 run select1 --uri "$POOLED_URI" --txn-pooling --rate 2000 --duration 30s',
        "open loop, pooled",
      )
      .example("$0 run ./my-workload.js --set delay=50 --iterations 1000", "your own workload")
      .example(
        "$0 run tpcb --conns 24 --rate 600 --duration 60s --shard 0/3 --start-at 2026-12-03T10:00:00Z",
        "shard 0 of 3 (run 1/3 and 2/3 elsewhere), then dcpbench merge",
      ),
  handler: async (args) => {
    if (args.waitEvents && args.observe === false)
      throw new UsageError("--wait-events samples the server: it cannot go with --no-observe");
    const uri = targetUri(args.uri, args.stackDir);
    const workloadRef = resolveWorkloadRef(args.workload);
    const workload = await loadWorkload(workloadRef);
    const knobs = resolveKnobs(workload.name, workload.knobs, args.args, args.set.map(String));
    const plan = buildPlan({
      ...args,
      txnPooling: txnPoolingFor(args.txnPooling, uri, args.stackDir),
      thresholds: args.threshold.map(String),
      workload: workload.name,
      workloadRef,
      knobs,
      opNames: workload.opNames?.(knobs),
      uri,
      cpus: availableParallelism(),
      timedFaults: args.fault.length > 0 || args.faults !== undefined,
    });
    const faults = planFaults(args, plan);
    const { result, files } = await executeRun(plan, {
      observe: observeTargets(uri, args),
      prometheusPort: args.prometheusPort,
      prometheusHost: args.prometheusHost,
      faults,
      checkTarget: () => requireInitialised(workload, uri),
      say: (line) => process.stderr.write(line + "\n"),
      interrupts: processInterrupts,
    });
    // With --json, stdout carries the result file alone (for jq and CI), and what a person reads goes to stderr.
    const human = args.json ? process.stderr : process.stdout;
    human.write(`${summaryTable(result)}\n${parameterTable(result)}\n`);
    for (const a of result.availability) human.write(availabilityLine(a) + "\n");
    for (const f of result.faults) if (f.vip && f.startedAt !== null) human.write(vipLine(f) + "\n");
    if (result.idle) human.write(idleLine(result.idle) + "\n");
    for (const note of windowNotes(result)) human.write(`note: ${note}\n`);
    for (const line of opWaitLines(result.serverSide?.opWaits)) human.write(line + "\n");
    for (const t of result.thresholds) {
      const actual =
        t.actual === null ? "no such op" : `${+t.actual.toFixed(4)}${t.unit ? ` ${t.unit}` : ""}`;
      human.write(`threshold ${t.ok ? "ok     " : "CROSSED"} ${t.expr} (actual ${actual})\n`);
    }
    human.write(`result: ${files.json}\ntimeline: ${files.csv}\n`);
    if (args.json) process.stdout.write(readFileSync(files.json, "utf8"));
    process.exitCode = result.exitCode;
  },
};
