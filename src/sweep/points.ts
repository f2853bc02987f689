import { availableParallelism } from "node:os";
import type { Workload } from "../api.js";
import { buildPlan, type PlanInput, type RunPlan } from "../plan.js";
import { preflight } from "../run/preflight.js";
import type { Knobs } from "../schema/plan.js";
import type { SweepPlan } from "../schema/sweep.js";
import { pointLabel, pointOrder, type LiveTarget } from "./plan.js";

/** What a sweep is made of, as its command read it: the points' shared run options are `buildPlan`'s input. */
export interface SweepSpec {
  /** The options every point's run shares, unparsed (the point sets conns, target and label). */
  run: Omit<
    PlanInput,
    | "workload"
    | "workloadRef"
    | "knobs"
    | "uri"
    | "conns"
    | "cpus"
    | "txnPooling"
    | "label"
    | "out"
    | "thresholds"
    | "opNames"
  >;
  workload: Workload;
  workloadRef: string;
  knobs: Knobs;
  targets: LiveTarget[];
  conns: number[];
  poolSizes: number[] | null;
  pgbouncerProcs?: number[];
  repeat: number;
  reinit: boolean;
  pauseMs: number;
  /** Where the points' result files go. */
  pointsDir: string;
}

/**
 * Every point's complete run plan (built, and checked as `run` checks one, before the first point runs), and
 * the sweep plan the index keeps, whose shared run options are read from a built plan rather than parsed again.
 */
export function buildSweep(spec: SweepSpec): { plan: SweepPlan; runPlans: Map<string, RunPlan> } {
  const shape = {
    conns: spec.conns,
    poolSizes: spec.poolSizes,
    ...(spec.pgbouncerProcs ? { pgbouncerProcs: spec.pgbouncerProcs } : {}),
    repeat: spec.repeat,
    targets: spec.targets.map(({ name, uri, txnPooling }) => ({ name, uri, txnPooling })),
  };
  const byName = new Map(spec.targets.map((t) => [t.name, t]));
  const runPlans = new Map<string, RunPlan>();
  for (const p of pointOrder(shape)) {
    const t = byName.get(p.target)!;
    const runPlan = buildPlan({
      ...spec.run,
      conns: p.conns,
      workload: spec.workload.name,
      workloadRef: spec.workloadRef,
      knobs: spec.knobs,
      opNames: spec.workload.opNames?.(spec.knobs),
      uri: t.liveUri,
      txnPooling: t.txnPooling,
      label: pointLabel(p),
      out: spec.pointsDir,
      cpus: availableParallelism(),
      thresholds: [],
    });
    preflight(runPlan);
    runPlans.set(pointLabel(p), runPlan);
  }
  const first = runPlans.values().next().value!;
  const plan: SweepPlan = {
    workload: spec.workload.name,
    ...shape,
    run: {
      knobs: spec.knobs,
      // As asked: without --workers each point picks its own count for its clients.
      workers: spec.run.workers ?? null,
      durationMs: first.durationMs ?? null,
      iterations: first.iterations ?? null,
      ...(first.iterations !== undefined ? { iterationsSplit: first.iterationsSplit } : {}),
      rampMs: first.rampMs,
      rate: first.rate ?? null,
      arrival: first.arrival,
      queryMode: first.queryMode,
      driver: first.driver,
      connectPerTxn: first.connectPerTxn,
    },
    reinit: spec.reinit,
    pauseMs: spec.pauseMs,
  };
  return { plan, runPlans };
}
