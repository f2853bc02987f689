import { readFileSync, statSync } from "node:fs";
import { UsageError } from "../../errors.js";
import { decode } from "../../metrics/histogram.js";
import { RESULT_SCHEMA, RESULT_VERSION } from "../../schema/result.js";
import type { SavedPlan } from "../../schema/plan.js";
import type { ResultFile } from "../../schema/result.js";
import { printableStrings } from "./printable.js";
import { checkShape } from "./validate.js";

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

/**
 * The largest file read as JSON: about what V8 can hold as one string (a result of a day's run at 1 s
 * intervals is a few hundred MB).
 */
export const MAX_JSON_BYTES = 512 * 2 ** 20;

/**
 * A JSON file's content, refused in one line (exit 2) when it is missing, not a regular file (a FIFO would
 * block, /dev/zero never ends), larger than MAX_JSON_BYTES, or not JSON. `what` names it in messages.
 */
export function readJsonFile(path: string, what: string): unknown {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) throw new UsageError(`${what} not found: ${path}`);
  if (!st.isFile()) throw new UsageError(`${path} is not a regular file`);
  if (st.size > MAX_JSON_BYTES)
    throw new UsageError(
      `${path} is ${(st.size / 2 ** 20).toFixed(0)} MB: larger than a ${what} can be (${MAX_JSON_BYTES / 2 ** 20} MB)`,
    );
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new UsageError(`${path} is not a readable ${what}: ${(err as Error).message}`);
  }
}

/**
 * Reads and checks a result file: a corrupt, foreign, wrong-version or wrongly shaped file is one clear line
 * (exit 2) naming the file and the field. Fields the schema does not know are dropped; text that came from the
 * file has its control characters removed.
 */
export function readResult(path: string): ResultFile {
  const r = readJsonFile(path, "result file") as Partial<ResultFile> | null;
  if (r?.schema !== RESULT_SCHEMA) throw new UsageError(`${path} is not a dcpbench result file`);
  if (r.version !== RESULT_VERSION) {
    throw new UsageError(
      `${path} has result version ${JSON.stringify(r.version)}; this dcpbench reads version ${RESULT_VERSION}`,
    );
  }
  const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObject(r.summary) || !Array.isArray(r.timeline) || !isObject(r.plan))
    throw new UsageError(`${path} is missing parts of a result`);
  return printableStrings(checkShape<ResultFile>(withDefaults(r as ResultFile), path, "result"));
}

/**
 * Decodes every histogram of a result once, so that one which is not an HdrHistogram is refused as bad input
 * (exit 2, the file and the field) before a command adds it to others.
 */
export function checkHistograms(result: ResultFile, path: string): void {
  const check = (field: string, encoded: string | undefined) => {
    if (!encoded) return;
    try {
      decode(encoded).destroy();
    } catch (err) {
      throw new UsageError(`${path}: ${field} is not an HdrHistogram (${(err as Error).message})`);
    }
  };
  for (const [op, s] of Object.entries(result.summary)) {
    check(`summary.${op}.histogram`, s.histogram);
    check(`summary.${op}.service.histogram`, s.service?.histogram);
  }
  for (const [i, e] of result.timeline.entries())
    for (const [op, o] of Object.entries(e.ops)) check(`timeline.${i}.ops.${op}.histogram`, o.histogram);
}
