import type { Argv } from "yargs";
import { builtinWorkloads } from "../workload/registry.js";

/** The workload to run: a built-in's name or a module's path. */
export function workloadArg<T>(y: Argv<T>) {
  return y.positional("workload", {
    type: "string",
    demandOption: true,
    describe: `built-in (${builtinWorkloads().join(", ")}) or a path to a workload .js module`,
  });
}

/**
 * The options of `run` that shape the load itself, shared by every command that makes runs (`run`, `sweep`):
 * one definition, one help text.
 */
export function loadOptions<T>(y: Argv<T>) {
  return y
    .option("workers", {
      type: "number",
      describe: "worker processes [default: CPU count, at most --conns]",
    })
    .option("duration", {
      type: "string",
      describe: "the measured window (60s, 5m): after the ramp and the warm-up; cycles count by their start",
    })
    .option("iterations", {
      type: "number",
      describe:
        "stop after N cycles per worker (the seed's -i); how its clients share them: --iterations-split",
    })
    .option("iterations-split", {
      type: "string",
      choices: ["shared", "even"],
      describe:
        "shared: one budget per worker, taken by whichever client is free (faster clients run more); even: each client runs an equal share and the run ends when the slowest is done (the seed's dbworkload -i) [default: shared]",
    })
    .option("warmup", {
      type: "string",
      describe:
        "after the ramp, before the measured window (left out of the summary): auto ends it when the run is steady (the server's or PgBouncers' connections no longer growing, the cycle rate stable), or a fixed time (5s), or 0 [default: auto, at least 2s (1s under a 20s --duration), for a --duration of 5s or more; else 0; fixed 2s/1s with --shard, --start-at or --fault; 0 with --iterations]",
    })
    .option("warmup-max", {
      type: "string",
      describe:
        "--warmup auto: measure anyway after this long, and say the run was not steady [default: 60s]",
    })
    .option("drain", {
      type: "string",
      describe:
        "after the window's end, the load goes on until the cycles that started in the window have finished, at most this long; any still running are cut off and counted apart [default: 30s]",
    })
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
    .option("query-mode", {
      type: "string",
      choices: ["simple", "extended", "prepared", "psycopg"],
      describe:
        "protocol [default: simple]. psycopg: as the seed's client (psycopg 3) — extended, each statement prepared from its 6th run on a connection; with --txn-pooling never prepared",
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
    .option("idle-conns", {
      type: "number",
      describe:
        "hold N more connections through the same target beside the clients for the whole run, never timed (the swarm of mostly idle sessions) [default: 0]",
    })
    .option("idle-every", {
      type: "string",
      describe: "each idle connection sends SELECT 1 this often (50s) [default: never]",
    })
    .option("wait-events", {
      type: "boolean",
      describe:
        "where each op waits in the server: its statements carry the op's name (a comment) and pg_stat_activity is sampled every 100 ms over the window (PostgreSQL)",
    })
    .option("progress", { type: "string", describe: "progress interval (1s) or off [default: 1s]" })
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
    .option("json", {
      type: "boolean",
      default: false,
      describe: "print the result file's JSON (a sweep: its index's) on stdout, and the tables on stderr",
    })
    .option("prometheus-port", {
      type: "number",
      describe: "serve live metrics on 127.0.0.1:PORT/metrics (a sweep: each point's, in turn)",
    })
    .option("prometheus-host", {
      type: "string",
      describe:
        "address --prometheus-port listens on (0.0.0.0 in a pod, for Prometheus to scrape) [default: 127.0.0.1]",
    });
}
