import { CYCLE } from "../schema/measures.js";
import type { ResultFile } from "../schema/result.js";

/** Where a cycle's mean time went, in ms: queued in PgBouncer, executing in the server, and the rest. */
export interface TimeSplit {
  cycleMs: number;
  /** PgBouncer's wait for a server connection, per cycle; null without a PgBouncer sampled (a direct run). */
  poolerWaitMs: number | null;
  /** pg_stat_statements' execution time of the run's statements, per cycle; null without it. */
  serverMs: number | null;
  /** The cycle's mean less both: network hops, the client, app think time inside ops. */
  restMs: number | null;
}

/**
 * Over the measured window: PgBouncer's mean wait per transaction times its transactions, summed interval by
 * interval, over the cycles completed then; the server's statement time over the cycles of its window.
 */
export function timeSplit(r: ResultFile): TimeSplit | undefined {
  const cycle = r.summary[CYCLE];
  if (!cycle || cycle.count === 0) return undefined;
  let waitMs = 0;
  let cycles = 0;
  let sampled = false;
  for (const e of r.timeline) {
    if (e.phase !== "window") continue;
    const o = e.observed;
    if (o?.pgb_avg_wait_ms === undefined || o.pgb_xact_per_s === undefined) continue;
    sampled = true;
    waitMs += o.pgb_avg_wait_ms * o.pgb_xact_per_s * e.dt;
    cycles += e.ops[CYCLE]?.count ?? 0;
  }
  const poolerWaitMs = sampled && cycles > 0 ? waitMs / cycles : null;
  const s = r.serverSide;
  const calls = s?.summary.statementCalls;
  const mean = s?.summary.statementMeanMs;
  const serverCycles = cycle.rate * (s?.windowSec ?? 0);
  const serverMs = calls != null && mean != null && serverCycles > 0 ? (mean * calls) / serverCycles : null;
  const restMs = serverMs === null ? null : cycle.mean - serverMs - (poolerWaitMs ?? 0);
  const round = (v: number | null) => (v === null ? null : +v.toFixed(3));
  return {
    cycleMs: cycle.mean,
    poolerWaitMs: round(poolerWaitMs),
    serverMs: round(serverMs),
    restMs: round(restMs),
  };
}
