import type { ServerInfo } from "../db/connect.js";
import type { FaultRecord } from "../faults/scheduler.js";
import type { ObservedSummary } from "../observe/observer.js";
import { availability } from "./availability.js";
import { redactPlan, type RunPlan } from "../plan.js";
import type { RunOutcome } from "../runner/runner.js";
import { VERSION } from "../version.js";
import { RESULT_SCHEMA, RESULT_VERSION, type ResultFile } from "./schema.js";
import { evaluateThresholds } from "./thresholds.js";

/** Assembles the result file from the plan and what the runner measured. */
export function buildResult(
  plan: RunPlan,
  server: ServerInfo,
  outcome: RunOutcome,
  observed?: ObservedSummary,
  faults: FaultRecord[] = [],
): ResultFile {
  const { agg, workers, runner } = outcome;
  const connected = workers.reduce((n, w) => n + w.connected, 0);
  const summary = agg.summaries();
  const thresholds = evaluateThresholds(plan.thresholds, { summary });
  const crossed = thresholds.some((t) => !t.ok);
  // Cycles that finish in the stop grace are not part of the measured window; neither are stalls there.
  const stalls = agg.stalls.system(
    plan.durationMs !== undefined ? (plan.rampMs + plan.durationMs) / 1000 : undefined,
  );
  for (const f of faults) {
    if (f.startedAt === null) continue;
    const entry =
      agg.timeline.find((e) => f.startedAt! < e.t && f.startedAt! >= e.t - e.dt) ?? agg.timeline.at(-1);
    if (entry) (entry.faults ??= []).push(f.spec);
  }
  return {
    schema: RESULT_SCHEMA,
    version: RESULT_VERSION,
    tool: { name: "dcpbench", version: VERSION },
    label: plan.label,
    workload: plan.workload,
    plan: redactPlan(plan),
    server,
    startedAt: outcome.startedAt.toISOString(),
    endedAt: outcome.endedAt.toISOString(),
    elapsedSec: +agg.measuredSeconds.toFixed(3),
    partial: outcome.partial,
    stopReason: outcome.stopReason,
    exitCode: outcome.exitCode === 0 && crossed ? 3 : outcome.exitCode,
    clients: { planned: plan.conns, connected, failedToConnect: plan.conns - connected },
    summary,
    counters: { reconnects: agg.reconnects, missed: agg.missed, abandoned: agg.abandoned },
    errorSamples: agg.errorSamples(),
    observed,
    faults,
    availability: availability(faults, agg.outages, stalls),
    outages: agg.outages,
    stalls,
    thresholds,
    timeline: agg.timeline,
    resources: {
      runner,
      workers: workers.map((w) => ({
        index: w.index,
        clients: w.clients,
        cpuUserSec: w.cpuUserSec,
        cpuSystemSec: w.cpuSystemSec,
        maxRssMb: +w.maxRssMb.toFixed(1),
        exitCode: w.exitCode,
        signal: w.signal,
        died: w.died,
      })),
      cpuSec: +[runner, ...workers].reduce((n, p) => n + p.cpuUserSec + p.cpuSystemSec, 0).toFixed(3),
      peakRssMb: +[runner, ...workers].reduce((n, p) => n + p.maxRssMb, 0).toFixed(1),
    },
  };
}
