import { CYCLE, LAG } from "../schema/measures.js";
import type { ResultFile } from "../schema/result.js";

/** Past this share of the cycle's p99, the harness's own start lag is said to bound the tail. */
const LAG_SHARE = 0.25;

/**
 * An open-loop run whose own scheduling lag (`__lag__`: how late cycles started against their intended
 * time) is a large part of the tail it reports: a sentence saying so, with the figures and what helps.
 * Undefined when that is not the case (or the run was closed loop).
 */
export function generatorBoundNote(r: Pick<ResultFile, "summary" | "plan" | "label">): string | undefined {
  const lag = r.summary[LAG];
  const cycle = r.summary[CYCLE];
  if (!lag?.count || !cycle?.count || !(cycle.p99 > 0) || lag.p99 <= cycle.p99 * LAG_SHARE) return undefined;
  const perWorker = Math.ceil(r.plan.conns / Math.max(1, r.plan.workers));
  const help = [r.plan.pin ? "" : "--pin", perWorker > 1 ? `fewer clients per worker (now ${perWorker})` : ""]
    .filter(Boolean)
    .join(" or ");
  return (
    `${r.label}: this tail is bounded by the load generator — its own start lag p99 ${lag.p99} ms is ` +
    `${Math.round((lag.p99 / cycle.p99) * 100)}% of the cycle's p99 ${cycle.p99} ms` +
    (help ? `; ${help} may help` : "")
  );
}
