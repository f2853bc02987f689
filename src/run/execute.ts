import { hostname } from "node:os";
import { measureClockOffset } from "../db/clock-offset.js";
import { probeServer } from "../db/connect.js";
import { clearLeftovers } from "../db/leftovers.js";
import { redactUri } from "../db/uri.js";
import { formatDuration } from "../options/units.js";
import type { RunPlan } from "../plan.js";
import type { Output } from "../outputs/output.js";
import { ProgressPrinter } from "../outputs/progress.js";
import { ResultWriter } from "../outputs/result-writer.js";
import { iterationsText } from "../results/tables.js";
import type { ClockOffset, ResultFile, ServerInfo } from "../schema/result.js";
import { printable, printableStrings } from "../results/io/printable.js";
import type { Interrupts } from "../runner/interrupts.js";
import { runPlan } from "../runner/runner.js";
import { preflight } from "./preflight.js";
import { buildResult } from "./result.js";
import { SideServices, type SideServiceOptions } from "./services.js";

export interface RunOptions extends SideServiceOptions {
  /** Where a line for the user goes (stderr for the CLI): the header, progress, notices. */
  say(line: string): void;
  /** Stop requests (default: this process's SIGINT and SIGTERM). */
  interrupts?: Interrupts;
  /** After the probe, before any worker starts: the target's own checks (the workload's tables exist…). */
  checkTarget?(): Promise<void>;
}

export interface RunDone {
  result: ResultFile;
  files: { json: string; csv: string };
}

/** --shard and --start-at, when given: which part of the plan this process runs, and when. */
function shardLine(plan: RunPlan): string {
  const s = plan.shard;
  const part = s
    ? `shard ${s.index}/${s.count}: clients ${s.firstClientId}–${s.firstClientId + plan.conns - 1} of ${s.conns}` +
      (s.rate !== undefined ? `, ${+plan.rate!.toFixed(3)} of ${s.rate}/s` : "")
    : "";
  const at = plan.startAt ? `start at ${plan.startAt}` : "";
  return [part, at].filter(Boolean).join("; ");
}

function header(plan: RunPlan, server: ServerInfo): string {
  const stop = [
    plan.durationMs !== undefined
      ? formatDuration(plan.durationMs) +
        (plan.warmupAuto
          ? ` after a warm-up until steady (${formatDuration(plan.warmupMs)} to ${formatDuration(plan.warmupAuto.maxMs)})`
          : plan.warmupMs
            ? ` after a ${formatDuration(plan.warmupMs)} warm-up`
            : "")
      : "",
    plan.iterations !== undefined ? iterationsText(plan.iterations, plan.iterationsSplit) : "",
  ].filter(Boolean);
  return (
    `dcpbench run ${plan.workload} [${plan.label}]: ${plan.conns} clients over ${plan.workers} workers → ` +
    `${redactUri(plan.uri)} (${server.product} ${printable(server.version.split(" ")[1] ?? "")}), ` +
    `${plan.rate !== undefined ? `open loop ${plan.rate}/s` : "closed loop"}, ${stop.join(" or ") || "until Ctrl-C"}` +
    (plan.idleConns
      ? `; ${plan.idleConns} idle connections beside them (${plan.idleEveryMs !== undefined ? `SELECT 1 every ${formatDuration(plan.idleEveryMs)} each` : "never used"})`
      : "")
  );
}

/**
 * One run, end to end: checks the machine, probes the server, starts the side services, runs the workers,
 * stops every service (whatever happened), builds the result and writes it. Callable many times in one
 * process: it keeps no state between calls and never exits the process (errors are thrown: UsageError for
 * bad input, RunFailure when the run could not start).
 */
export async function executeRun(plan: RunPlan, opts: RunOptions): Promise<RunDone> {
  preflight(plan);
  const bound = await SideServices.bind(plan, opts);
  const notice = (line: string) => opts.say(`dcpbench: ${line}`);
  let services: SideServices;
  let server: ServerInfo;
  let clock: ClockOffset | null | undefined;
  try {
    server = await probeServer({
      uri: plan.uri,
      appName: plan.appName,
      connectTimeoutMs: plan.connectTimeoutMs,
    });
    await opts.checkTarget?.();
    // Shards compare notes by wall clock: each says how its clock stands against the server's.
    clock =
      plan.shard || plan.startAt
        ? await measureClockOffset({
            uri: plan.uri,
            appName: plan.appName,
            connectTimeoutMs: plan.connectTimeoutMs,
          })
        : undefined;
    if (clock !== undefined)
      opts.say(
        clock
          ? `dcpbench: clock: the server's is ${Math.abs(clock.offsetMs).toFixed(1)} ms ${clock.offsetMs >= 0 ? "ahead of" : "behind"} this host's (± ${(clock.rttMs / 2).toFixed(1)} ms)`
          : "dcpbench: clock: could not read the server's clock; the result records none",
      );
    opts.say(header(plan, server));
    if (plan.shard || plan.startAt) opts.say(`dcpbench: ${shardLine(plan)}`);
    services = await bound.start(server, opts, notice);
  } catch (err) {
    bound.close();
    throw err;
  }
  // Where the run's figures go: each interval to every output, the result at the end.
  const writer = new ResultWriter(plan.outDir, opts.say);
  const outputs: Output[] = [
    ...(plan.progress ? [new ProgressPrinter(opts.say)] : []),
    ...services.outputs(),
    writer,
  ];
  let outcome;
  let side;
  try {
    outcome = await runPlan(plan, server, {
      ...services.hooks(),
      onInterval: (entry, agg) => {
        for (const o of outputs) o.interval?.(entry, agg);
      },
      onNotice: notice,
      interrupts: opts.interrupts,
    });
  } finally {
    side = await services.stop();
  }
  const host = clock !== undefined ? { name: hostname(), clock } : undefined;
  // Server text (versions, error messages) is made printable once, for the terminal and every later reader.
  const result = printableStrings(
    buildResult(plan, server, outcome, side.observed, side.faults, side.serverSide, host),
  );
  for (const o of outputs) o.end?.(result);
  // Whatever runs next must not wait on this run's statements (a server that a fault took down has none).
  const serverUri = opts.observe?.observeUri;
  if (serverUri) await clearLeftovers(serverUri, [plan.appName], "this run", notice).catch(() => {});
  return { result, files: writer.files! };
}
