import { CYCLE, LAG } from "../schema/measures.js";
import type { ResultFile } from "../schema/result.js";

/** Past this share of the cycle's p99, the harness's own start lag is said to bound the tail. */
const LAG_SHARE = 0.25;

/**
 * An open-loop run whose start lag (`__lag__`: how late cycles started against their intended time) is a large
 * part of the tail it reports: a sentence saying whose it is, with the figures. The lag is the load
 * generator's own unless the target stalled: then starts waited for a client the database held, a backlog
 * that pgbench's lag counts too, and blaming the generator would send the user the wrong way.
 * Undefined when the lag is small (or the run was closed loop).
 */
export function generatorBoundNote(
  r: Pick<ResultFile, "summary" | "plan" | "label"> & Partial<Pick<ResultFile, "stalls">>,
): string | undefined {
  const lag = r.summary[LAG];
  const cycle = r.summary[CYCLE];
  if (!lag?.count || !cycle?.count || !(cycle.p99 > 0) || lag.p99 <= cycle.p99 * LAG_SHARE) return undefined;
  const share = `start lag p99 ${lag.p99} ms is ${Math.round((lag.p99 / cycle.p99) * 100)}% of the cycle's p99 ${cycle.p99} ms`;
  // Missed starts are no sign here: a generator that wakes late leaves slots untaken at the end too.
  const stalls = r.stalls ?? [];
  if (stalls.length) {
    const known = stalls.reduce((s, x) => s + (x.seconds ?? 0), 0);
    const open = stalls.some((x) => x.seconds === null);
    const total = open ? `${known.toFixed(1)} s and one until the end` : `${known.toFixed(1)} s in all`;
    return `${r.label}: its ${share}: a backlog behind ${stalls.length} stall(s) of the target (${total}), not the load generator's own lag`;
  }
  const perWorker = Math.ceil(r.plan.conns / Math.max(1, r.plan.workers));
  const help = [r.plan.pin ? "" : "--pin", perWorker > 1 ? `fewer clients per worker (now ${perWorker})` : ""]
    .filter(Boolean)
    .join(" or ");
  return (
    `${r.label}: this tail is bounded by the load generator — its own ${share}` +
    (help ? `; ${help} may help` : "")
  );
}
