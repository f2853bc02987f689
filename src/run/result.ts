import { savedPlan, type RunPlan } from "../plan.js";
import { availability } from "../results/availability.js";
import type { FaultRecord, ObservedSummary } from "../schema/events.js";
import type { TimelineEntry } from "../schema/measures.js";
import {
  RESULT_SCHEMA,
  RESULT_VERSION,
  type HostInfo,
  type IdleInfo,
  type ResultFile,
  type ServerInfo,
} from "../schema/result.js";
import { evaluateThresholds } from "../results/compare/thresholds.js";
import type { IdleReport } from "../runner/idle-conns.js";
import type { RunOutcome } from "../runner/runner.js";
import { VERSION } from "../version.js";
import { CYCLE } from "../schema/measures.js";
import type { ServerSide } from "../schema/server-side.js";
import { generatorVerdict, windowInfo } from "./window-report.js";

/** The timeline with each fault named in the interval it was carried out in; the entries given stay as they were. */
function timelineWithFaults(
  timeline: readonly TimelineEntry[],
  faults: readonly FaultRecord[],
): TimelineEntry[] {
  const out = [...timeline];
  for (const f of faults) {
    if (f.startedAt === null) continue;
    const at = f.startedAt;
    let i = out.findIndex((e) => at < e.t && at >= e.t - e.dt);
    if (i < 0) i = out.length - 1;
    if (i < 0) continue;
    out[i] = { ...out[i], faults: [...(out[i].faults ?? []), f.spec] };
  }
  return out;
}

/** Assembles the result file from the plan and what the runner measured; changes nothing it is given. */
export function buildResult(
  plan: RunPlan,
  server: ServerInfo,
  outcome: RunOutcome,
  observed?: ObservedSummary,
  faults: FaultRecord[] = [],
  serverSide?: (cycles: number, clientSec: number) => ServerSide | undefined,
  host?: Omit<HostInfo, "lateMs">,
): ResultFile {
  const { agg, workers, runner } = outcome;
  const connected = workers.reduce((n, w) => n + w.connected, 0);
  const summary = agg.summaries();
  // Stalls after the measured window (in its drain) are not part of it.
  const window = windowInfo(plan, outcome);
  const stalls = agg.stalls.system(window?.to);
  const generator = generatorVerdict(plan, agg, window, summary, stalls);
  const thresholds = evaluateThresholds(plan.thresholds, { summary, generator });
  const crossed = thresholds.some((t) => !t.ok);
  return {
    schema: RESULT_SCHEMA,
    version: RESULT_VERSION,
    tool: { name: "dcpbench", version: VERSION },
    label: plan.label,
    workload: plan.workload,
    plan: savedPlan(plan),
    server,
    startedAt: outcome.startedAt.toISOString(),
    endedAt: outcome.endedAt.toISOString(),
    elapsedSec: +agg.measuredSeconds.toFixed(3),
    ...(window ? { window } : {}),
    generator,
    partial: outcome.partial,
    stopReason: outcome.stopReason,
    exitCode: outcome.exitCode === 0 && crossed ? 3 : outcome.exitCode,
    clients: { planned: plan.conns, connected, failedToConnect: plan.conns - connected },
    ...(plan.idleConns ? { idle: idleInfo(plan, workers) } : {}),
    summary,
    counters: { reconnects: agg.reconnects, missed: agg.missed, abandoned: agg.abandoned },
    errorSamples: agg.errorSamples(),
    observed,
    serverSide: serverSide?.(summary[CYCLE]?.count ?? 0, agg.measuredSeconds),
    faults,
    availability: availability(faults, agg.outages, stalls, window?.to),
    outages: [...agg.outages],
    stalls,
    thresholds,
    timeline: timelineWithFaults(agg.timeline, faults),
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
    ...(host ? { host: { ...host, lateMs: outcome.lateMs ?? 0 } } : {}),
  };
}

/** The workers' idle connections, added up. */
function idleInfo(plan: RunPlan, workers: RunOutcome["workers"]): IdleInfo {
  const sum = (k: keyof IdleReport) => workers.reduce((n, w) => n + (w.idle?.[k] ?? 0), 0);
  return {
    planned: plan.idleConns ?? 0,
    connected: sum("connected"),
    failedToConnect: sum("failed"),
    heldAtEnd: sum("heldAtEnd"),
    everySec: plan.idleEveryMs !== undefined ? plan.idleEveryMs / 1000 : null,
    queries: sum("queries"),
    errors: sum("errors"),
  };
}
