import { STALL_MIN_SEC, type Outage, type SystemStall } from "../schema/measures.js";
import type { FaultAvailability } from "../schema/events.js";

const round = (n: number) => +n.toFixed(3);

/** Nearest-rank median over clients of each one's longest outage; null when that client never recovered. */
function medianClient(mine: Outage[]): number | null {
  const longest = new Map<number, number>();
  for (const o of mine) {
    const sec = o.to === null ? Infinity : o.to - o.from;
    longest.set(o.client, Math.max(longest.get(o.client) ?? 0, sec));
  }
  const sorted = [...longest.values()].sort((a, b) => a - b);
  const median = sorted[Math.ceil(sorted.length / 2) - 1];
  return Number.isFinite(median) ? round(median) : null;
}

/** Longest first; one that never ended is the longest. */
const longer = (a: SystemStall, b: SystemStall) =>
  a.seconds === null ? a : b.seconds === null ? b : a.seconds >= b.seconds ? a : b;

/**
 * Attributes each client outage to the fault in force when its first error happened (from that fault's time
 * until the next fault's, or the window's end: errors while the run stops belong to no fault), and each system
 * stall to the one in force when the silence became a stall, and sums up each fault's effect.
 */
export function availability(
  faults: Array<{ spec: string; startedAt: number | null }>,
  outages: Outage[],
  stalls: SystemStall[] = [],
  windowEnd = Infinity,
): FaultAvailability[] {
  const fired = faults.filter((f): f is { spec: string; startedAt: number } => f.startedAt !== null);
  return fired.map((f, i) => {
    const from = f.startedAt;
    const until = Math.min(fired[i + 1]?.startedAt ?? Infinity, windowEnd);
    const mine = outages.filter((o) => o.firstError >= from && o.firstError < until);
    const stalled = stalls.filter((s) => s.from + STALL_MIN_SEC >= from && s.from + STALL_MIN_SEC < until);
    const ambiguousCommits = mine.reduce((n, o) => n + o.ambiguous, 0);
    const unrecovered = mine.some((o) => o.to === null);
    const start = mine.length ? Math.min(...mine.map((o) => o.from)) : 0;
    const end = unrecovered || !mine.length ? null : Math.max(...mine.map((o) => o.to!));
    return {
      fault: f.spec,
      at: from,
      firstErrorAfterSec: mine.length ? round(Math.min(...mine.map((o) => o.firstError)) - from) : null,
      clientsAffected: new Set(mine.map((o) => o.client)).size,
      errors: mine.reduce((n, o) => n + o.errors, 0),
      ambiguousCommits,
      outage: mine.length
        ? {
            from: round(start),
            to: end === null ? null : round(end),
            seconds: end === null ? null : round(end - start),
          }
        : null,
      worstClientSec:
        mine.length && !unrecovered ? round(Math.max(...mine.map((o) => o.to! - o.from))) : null,
      medianClientSec: mine.length ? medianClient(mine) : null,
      recoveredAfterSec: end === null ? null : round(end - from),
      stall: stalled.length ? stalled.reduce(longer) : null,
    };
  });
}
