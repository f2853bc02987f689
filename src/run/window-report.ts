import { availableParallelism } from "node:os";
import type { Aggregator, CpuReading } from "../metrics/aggregate.js";
import type { Stall } from "../metrics/snapshot.js";
import type { RunPlan } from "../plan.js";
import { generatorBoundNote } from "../results/generator-bound.js";
import { CYCLE, LAG, type OpSummary, type SystemStall, type TimelineEntry } from "../schema/measures.js";
import type { ConnectionState, GeneratorVerdict, WindowInfo } from "../schema/window.js";
import type { RunOutcome } from "../runner/runner.js";
import { serverConnections } from "../runner/steady-state.js";

/** A worker whose event loop ran more than this share of one core over the window could not keep up. */
const BUSY_WORKER_PCT = 90;
/** Frozen for longer than this share of the window (or 0.5 s): the generator, not the target, was missing. */
const FROZEN_SHARE = 0.05;
const FROZEN_MIN_SEC = 0.5;
/** Held up (0.2 s or more at a time) for more than this share of the window: starved of CPU. */
const DELAYED_SHARE = 0.2;

const round = (n: number, digits = 3) => +n.toFixed(digits);

/**
 * What the samplers saw at the end of the interval that nominally ends at `atSec` after t0 (by its number: a
 * starved worker's intervals arrive late, and their `t` with them).
 */
function connectionsAt(
  timeline: readonly TimelineEntry[],
  atSec: number,
  intervalSec: number,
): ConnectionState | undefined {
  const seq = Math.round(atSec / intervalSec);
  const e = timeline.find((x) => x.seq === seq);
  const o = e?.observed;
  if (!o) return undefined;
  const state: ConnectionState = {};
  if (o.db_sessions !== undefined) state.dbSessions = o.db_sessions;
  if (o.pgb_sv_active !== undefined) state.poolerServerConns = serverConnections(o);
  if (o.pgb_cl_waiting !== undefined) state.poolerClientsWaiting = o.pgb_cl_waiting;
  return Object.keys(state).length ? state : undefined;
}

/** The longest time one worker was frozen inside [from, to), in freezes of at least `minSec`. */
function frozenIn(freezes: ReadonlyMap<number, Stall[]>, from: number, to: number, minSec = 0): number {
  let worst = 0;
  for (const list of freezes.values()) {
    const sec = list
      .filter((f) => f.to - f.from >= minSec)
      .reduce((n, f) => n + Math.max(0, Math.min(f.to, to) - Math.max(f.from, from)), 0);
    worst = Math.max(worst, sec);
  }
  return worst;
}

/** A worker's CPU (µs) at `t`, between the readings around it. */
function cpuAt(list: readonly CpuReading[], t: number): number {
  if (list.length === 0) return 0;
  let prev = { t: 0, cpuUs: list[0].cpuUs };
  for (const r of list) {
    if (r.t >= t) {
      const span = r.t - prev.t;
      return span > 0 ? prev.cpuUs + ((r.cpuUs - prev.cpuUs) * (t - prev.t)) / span : r.cpuUs;
    }
    prev = r;
  }
  return prev.cpuUs;
}

/** The measured window as the result records it; undefined when it never opened (stopped in the warm-up). */
export function windowInfo(plan: RunPlan, outcome: RunOutcome): WindowInfo | undefined {
  const { window, agg } = outcome;
  if (window.from === null || window.to === null) return undefined;
  const seconds = round(window.to - window.from);
  const frozen = frozenIn(agg.freezes, window.from, window.to, plan.intervalMs / 1000);
  const atStart = connectionsAt(agg.timeline, window.from, plan.intervalMs / 1000);
  const atEnd = connectionsAt(agg.timeline, window.to, plan.intervalMs / 1000);
  const lastT = agg.timeline.at(-1)?.t ?? window.to;
  return {
    t0: new Date(window.t0).toISOString(),
    from: round(window.from),
    to: round(window.to),
    seconds,
    measuredSec: round(Math.max(0, seconds - frozen)),
    warmup: {
      endedBy: window.warmup?.endedBy ?? "none",
      seconds: round(Math.max(0, window.from - plan.rampMs / 1000)),
      detail: window.warmup?.detail ?? "",
    },
    ...(atStart ? { atStart } : {}),
    ...(atEnd ? { atEnd } : {}),
    drained: agg.drained,
    cutOff: agg.cutOff,
    drainSec: round(Math.max(0, lastT - window.to)),
  };
}

/** Whether the load generator bounded the run, with the figures: its CPU, frozen stretches, late intervals, lag. */
export function generatorVerdict(
  plan: RunPlan,
  agg: Aggregator,
  window: WindowInfo | undefined,
  summary: Record<string, OpSummary>,
  stalls: SystemStall[],
): GeneratorVerdict {
  const from = window?.from ?? 0;
  const to = window?.to ?? agg.timeline.at(-1)?.t ?? 0;
  const sec = Math.max(1e-9, to - from);
  const I = plan.intervalMs / 1000;
  const perWorker = [...agg.cpu.values()].map((list) => (cpuAt(list, to) - cpuAt(list, from)) / 1e6);
  const busiest = perWorker.length ? Math.max(...perWorker) : 0;
  const busiestWorkerPct = round((100 * busiest) / sec, 1);
  const hostSharePct = round(
    (100 * perWorker.reduce((a, b) => a + b, 0)) / (sec * availableParallelism()),
    1,
  );
  const frozenSec = round(frozenIn(agg.freezes, from, to, I));
  const delayedSec = round(frozenIn(agg.freezes, from, to));
  const inWindow = agg.timeline.filter((e) => e.phase === "window");
  const lateIntervals = inWindow.filter((e) => e.t - e.seq * I > I).length;
  const lag = summary[LAG];
  const reasons: string[] = [];
  if (frozenSec > Math.max(FROZEN_MIN_SEC, FROZEN_SHARE * sec))
    reasons.push(
      `a load generator process was frozen for ${frozenSec.toFixed(1)} s of the ${sec.toFixed(1)} s window (an interval or more at a time)`,
    );
  else if (delayedSec > DELAYED_SHARE * sec)
    reasons.push(
      `a worker's event loop was held up 0.2 s or more at a time for ${delayedSec.toFixed(1)} s of the ${sec.toFixed(1)} s window: starved of CPU (on one host, the database's processes outnumber it)`,
    );
  if (lateIntervals > 0)
    reasons.push(`${lateIntervals} interval(s) of the window reached the runner more than one interval late`);
  if (busiestWorkerPct >= BUSY_WORKER_PCT)
    reasons.push(
      `a worker's event loop used ${busiestWorkerPct.toFixed(0)}% of a core over the window (more workers, or fewer clients each)`,
    );
  const note = summary[CYCLE]?.count
    ? generatorBoundNote({ summary, plan: { ...plan, uri: "" }, label: plan.label, stalls })
    : undefined;
  if (note && !stalls.length) reasons.push(note.replace(`${plan.label}: `, ""));
  return {
    starved: reasons.length > 0,
    reasons,
    hostSharePct,
    busiestWorkerPct,
    frozenSec,
    delayedSec,
    lateIntervals,
    ...(lag?.count ? { lagP99Ms: lag.p99 } : {}),
  };
}
