import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import { RESULT_SCHEMA, RESULT_VERSION } from "../schema/result.js";
import type { SavedPlan } from "../schema/plan.js";
import type { ResultFile } from "../schema/result.js";

/**
 * A saved plan with every field a reader relies on: files written before a field existed get the value the
 * run that wrote them actually used (e.g. `driver: "pg"`, the only driver before there was a choice).
 */
export function savedPlanOf(plan: Partial<SavedPlan> & Pick<SavedPlan, "workload" | "conns">): SavedPlan {
  return {
    ...plan,
    workloadRef: plan.workloadRef ?? plan.workload,
    knobs: plan.knobs ?? {},
    uri: plan.uri ?? "",
    workers: plan.workers ?? 1,
    rampMs: plan.rampMs ?? 0,
    arrival: plan.arrival ?? "uniform",
    txnPooling: plan.txnPooling ?? false,
    queryMode: plan.queryMode ?? "simple",
    connectPerTxn: plan.connectPerTxn ?? false,
    driver: plan.driver ?? "pg",
    label: plan.label ?? "",
    outDir: plan.outDir ?? "results",
    intervalMs: plan.intervalMs ?? 1000,
    progress: plan.progress ?? true,
    appName: plan.appName ?? "",
    connectTimeoutMs: plan.connectTimeoutMs ?? 10_000,
    thresholds: plan.thresholds ?? [],
  };
}

/** The parts a result file gained within version 1, filled where an older file lacks them. */
function withDefaults(r: ResultFile): ResultFile {
  return {
    ...r,
    plan: savedPlanOf(r.plan),
    counters: {
      reconnects: r.counters?.reconnects ?? 0,
      missed: r.counters?.missed ?? 0,
      abandoned: r.counters?.abandoned ?? 0,
    },
    errorSamples: r.errorSamples ?? [],
    faults: r.faults ?? [],
    availability: r.availability ?? [],
    outages: r.outages ?? [],
    thresholds: r.thresholds ?? [],
  };
}

/** Reads and checks a result file; a corrupt, foreign or wrong-version file is one clear line (exit 2). */
export function readResult(path: string): ResultFile {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(
      e.code === "ENOENT"
        ? `result file not found: ${path}`
        : `${path} is not a readable result file: ${e.message}`,
    );
  }
  const r = data as Partial<ResultFile>;
  if (r?.schema !== RESULT_SCHEMA) throw new UsageError(`${path} is not a dcpbench result file`);
  if (r.version !== RESULT_VERSION) {
    throw new UsageError(
      `${path} has result version ${r.version}; this dcpbench reads version ${RESULT_VERSION}`,
    );
  }
  if (!r.summary || !Array.isArray(r.timeline) || !r.plan)
    throw new UsageError(`${path} is missing parts of a result`);
  return withDefaults(r as ResultFile);
}
