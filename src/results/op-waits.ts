import type { OpWaits } from "../schema/server-side.js";

/** The events shown by name on an op's line; the rest are summed as "other". */
const SHOWN = 5;

/** One op's sampled session time (s) and each event's share of it, largest first. */
export interface OpWaitShares {
  op: string;
  sessionSec: number;
  shares: Array<{ what: string; pct: number }>;
}

export function opWaitShares(w: OpWaits): OpWaitShares[] {
  return Object.entries(w.ops).map(([op, events]) => {
    const total = Object.values(events).reduce((a, b) => a + b, 0);
    const shares = Object.entries(events)
      .sort((a, b) => b[1] - a[1])
      .map(([what, n]) => ({ what, pct: total ? (100 * n) / total : 0 }));
    // Each sample stands for an equal share of the time sampled, whatever the timer's jitter.
    return { op, sessionSec: w.samples ? (total / w.samples) * w.seconds : 0, shares };
  });
}

/**
 * "archive  512.3 session-s: Lock:transactionid 44%, CPU 21%, …": where each op's sessions were over the window,
 * for the run's text output and compare.
 */
export function opWaitLines(w: OpWaits | undefined): string[] {
  if (!w) return [];
  const head =
    `where each op's sessions were (pg_stat_activity every ${w.sampleMs} ms over the window, ${w.samples} samples` +
    `${w.skipped ? `, ${w.skipped} skipped behind a slow one` : ""}; share of the op's sampled session time):`;
  const rows = opWaitShares(w);
  const width = Math.max(0, ...rows.map((r) => r.op.length));
  const lines = rows.map((r) => {
    const shown = r.shares.slice(0, SHOWN).map((s) => `${s.what} ${s.pct.toFixed(0)}%`);
    const rest = r.shares.slice(SHOWN).reduce((a, s) => a + s.pct, 0);
    if (rest > 0) shown.push(`other ${rest.toFixed(0)}%`);
    return `  ${r.op.padEnd(width)}  ${r.sessionSec.toFixed(1)} session-s: ${shown.join(", ")}`;
  });
  return [head, ...lines, ...(w.note ? [`  (${w.note})`] : [])];
}
