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

/** The events shown per op in a comparison: each run's largest few, together. */
const COMPARED = 4;

/** One row of a comparison's wait table: an op's session time, or one event's share of it (%), per run. */
export interface OpWaitRow {
  op: string;
  /** "session-s" for the op's sampled session time; else the event (`CPU`, `Lock:transactionid`, …). */
  what: string;
  /** Per run; null where the run has no sample of it (or no --wait-events). */
  values: Array<number | null>;
}

/** Side by side, per op: its sampled session time, then the events that were largest in any run. */
export function opWaitRows(runs: Array<OpWaits | undefined>): OpWaitRow[] {
  const shares = runs.map((w) => (w ? opWaitShares(w) : []));
  const ops = [...new Set(shares.flatMap((s) => s.map((x) => x.op)))];
  return ops.flatMap((op) => {
    const mine = shares.map((s) => s.find((x) => x.op === op));
    const events = [
      ...new Set(mine.flatMap((m) => (m ? m.shares.slice(0, COMPARED).map((s) => s.what) : []))),
    ];
    return [
      { op, what: "session-s", values: mine.map((m) => (m ? +m.sessionSec.toFixed(1) : null)) },
      ...events.map((what) => ({
        op,
        what,
        values: mine.map((m) => {
          if (!m) return null;
          return +(m.shares.find((s) => s.what === what)?.pct ?? 0).toFixed(1);
        }),
      })),
    ];
  });
}
