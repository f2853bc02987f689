import { availableParallelism } from "node:os";
import type { CommandModule } from "yargs";
import { buildPlan } from "../plan.js";
import { availabilityLine, parameterTable, summaryTable } from "../results/tables.js";
import { executeRun } from "../run/execute.js";
import { processInterrupts } from "../runner/interrupts.js";
import { requireInitialised } from "../workload/init.js";
import { resolveKnobs } from "../workload/knobs.js";
import { builtinWorkloads, loadWorkload, resolveWorkloadRef } from "../workload/registry.js";
import { observeTargets, planFaults, type RunArgs } from "./run-options.js";
import { targetUri } from "./target.js";

export const runCommand: CommandModule<object, RunArgs> = {
  command: "run <workload>",
  describe: "run a workload: forked workers, N clients each, HDR latency percentiles, a result file",
  builder: (y) =>
    y
      .positional("workload", {
        type: "string",
        demandOption: true,
        describe: `built-in (${builtinWorkloads().join(", ")}) or a path to a workload .js module`,
      })
      .option("uri", {
        type: "string",
        describe: "target (also $PGURI, libpq env; default: the local stack, direct)",
      })
      .option("conns", { type: "number", describe: "total clients [default: 8]" })
      .option("workers", {
        type: "number",
        describe: "worker processes [default: CPU count, at most --conns]",
      })
      .option("duration", { type: "string", describe: "stop after this long (60s, 5m), after the ramp" })
      .option("iterations", { type: "number", describe: "stop after N cycles per worker (the seed's -i)" })
      .option("ramp", {
        type: "string",
        describe:
          "closed loop: start clients spread over this time; open loop: raise the rate from 0 over it; left out of the summary",
      })
      .option("rate", {
        type: "string",
        describe: "open loop: cycles per second across all workers (500, 500/s)",
      })
      .option("arrival", { type: "string", choices: ["uniform", "poisson"], describe: "open-loop arrivals" })
      .option("pin", {
        type: "string",
        describe: "pin each worker process to one CPU of this list, in turn (Linux, taskset): 1, 0,2, 2-5",
      })
      .option("set", {
        type: "string",
        array: true,
        default: [],
        describe: "workload knob key=value (repeatable)",
      })
      .option("args", {
        type: "string",
        describe: "knobs as JSON, or a .json / .yaml file (like dbworkload)",
      })
      .option("txn-pooling", {
        type: "boolean",
        describe: "target is a transaction pooler: no named prepared statements",
      })
      .option("query-mode", {
        type: "string",
        choices: ["simple", "extended", "prepared"],
        describe: "protocol [default: simple]",
      })
      .option("driver", {
        type: "string",
        choices: ["lean", "pg"],
        describe:
          "how clients send queries: lean (straight to the socket pg opened; rows parsed only when read) or pg (pg's Client.query) [default: lean]",
      })
      .option("connect-per-txn", {
        type: "boolean",
        describe: "open and close a connection around every cycle (pgbench -C)",
      })
      .option("label", {
        type: "string",
        describe: "name of this run [default: pooled with --txn-pooling, else direct]",
      })
      .option("out", { type: "string", describe: "directory for the result files [default: results]" })
      .option("progress", { type: "string", describe: "progress interval (1s) or off [default: 1s]" })
      .option("app-name", { type: "string", describe: "application_name [default: dcpbench-<label>]" })
      .option("connect-timeout", { type: "string", describe: "per connection attempt [default: 10s]" })
      .option("max-errors", { type: "number", describe: "give up (exit 1) after more errors than this" })
      .option("observe", {
        type: "boolean",
        default: true,
        describe: "sample the server side every interval (--no-observe: off)",
      })
      .option("observe-uri", {
        type: "string",
        describe: "direct URI for pg_stat_activity [default: the local stack's direct URI, else --uri]",
      })
      .option("pgbouncer-admin", {
        type: "string",
        describe:
          "PgBouncer admin URI(s), comma-separated, for SHOW POOLS/STATS [default: the local stack's, for a pooled run]",
      })
      .option("prometheus-port", { type: "number", describe: "serve live metrics on 127.0.0.1:PORT/metrics" })
      .option("fault", {
        type: "string",
        array: true,
        default: [],
        describe:
          "drive the local stack during the run: 'at=20s kill pgbouncer-1 signal=KILL', 'at=40s start pgbouncer-1'",
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
      .example("$0 run ./my-workload.js --set delay=50 --iterations 1000", "your own workload"),
  handler: async (args) => {
    const uri = targetUri(args.uri, args.stackDir);
    const workloadRef = resolveWorkloadRef(args.workload);
    const workload = await loadWorkload(workloadRef);
    const knobs = resolveKnobs(workload.name, workload.knobs, args.args, args.set.map(String));
    const plan = buildPlan({
      ...args,
      thresholds: args.threshold.map(String),
      workload: workload.name,
      workloadRef,
      knobs,
      opNames: workload.opNames?.(knobs),
      uri,
      cpus: availableParallelism(),
    });
    const faults = planFaults(args, plan);
    const { result, files } = await executeRun(plan, {
      observe: observeTargets(uri, args),
      prometheusPort: args.prometheusPort,
      faults,
      checkTarget: () => requireInitialised(workload, uri),
      say: (line) => process.stderr.write(line + "\n"),
      interrupts: processInterrupts,
    });
    process.stdout.write(`${summaryTable(result)}\n${parameterTable(result)}\n`);
    for (const a of result.availability) process.stdout.write(availabilityLine(a) + "\n");
    for (const t of result.thresholds) {
      const actual =
        t.actual === null ? "no such op" : `${+t.actual.toFixed(4)}${t.unit ? ` ${t.unit}` : ""}`;
      process.stdout.write(`threshold ${t.ok ? "ok     " : "CROSSED"} ${t.expr} (actual ${actual})\n`);
    }
    process.stdout.write(`result: ${files.json}\ntimeline: ${files.csv}\n`);
    process.exitCode = result.exitCode;
  },
};
