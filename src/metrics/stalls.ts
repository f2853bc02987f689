import { type Snapshot, type Stall } from "./snapshot.js";
import { STALL_MIN_SEC, type SystemStall } from "../schema/measures.js";

type Span = [from: number, to: number];

/** The common part of two sorted lists of disjoint spans. */
function intersect(a: Span[], b: Span[]): Span[] {
  const out: Span[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const from = Math.max(a[i][0], b[j][0]);
    const to = Math.min(a[i][1], b[j][1]);
    if (from < to) out.push([from, to]);
    if (a[i][1] < b[j][1]) i++;
    else j++;
  }
  return out;
}

/** Sorted, overlapping spans joined. */
function union(spans: Span[]): Span[] {
  const out: Span[] = [];
  for (const s of [...spans].sort((x, y) => x[0] - y[0])) {
    const last = out.at(-1);
    if (last && s[0] <= last[1]) last[1] = Math.max(last[1], s[1]);
    else out.push([...s]);
  }
  return out;
}

const round = (n: number) => +n.toFixed(3);

const spans = (list: Stall[] | undefined): Span[] =>
  (list ?? []).map((s) => [s.from, s.open ? Infinity : s.to]);

/**
 * Collects each worker's silences and stalls and finds the system's stalls: the times when no worker had a
 * success while cycles were waiting somewhere. A worker that has ended counts as silent from its end on, one
 * with nothing to do (thinking, or between open-loop starts) only breaks a stall by succeeding. A restarted
 * database behind a pooler shows here even when no client saw an error, because queued clients just wait.
 */
export class StallTracker {
  private readonly workers = new Map<number, { silent: Span[]; stalled: Span[]; end: number }>();

  add(worker: number, snap: Pick<Snapshot, "t" | "silences" | "stalls">): void {
    let w = this.workers.get(worker);
    if (!w) this.workers.set(worker, (w = { silent: [], stalled: [], end: 0 }));
    w.silent.push(...spans(snap.silences));
    w.stalled.push(...spans(snap.stalls));
    w.end = Math.max(w.end, snap.t);
  }

  /** The system's stalls, cut at `until` (the planned end of the measured window) when given. */
  system(until = Infinity): SystemStall[] {
    if (this.workers.size === 0) return [];
    let quiet: Span[] | undefined;
    for (const w of this.workers.values()) {
      const silent = union([...w.silent, [w.end, Infinity]]);
      quiet = quiet ? intersect(quiet, silent) : silent;
    }
    const waiting = union([...this.workers.values()].flatMap((w) => w.stalled));
    const lastEnd = Math.max(...[...this.workers.values()].map((w) => w.end));
    const end = Math.min(until, lastEnd);
    return intersect(quiet ?? [], waiting)
      .filter(([from, to]) => Math.min(to, end) - from >= STALL_MIN_SEC)
      .map(([from, to]) =>
        // Still stalled at the end of the measured window: it never ended as far as the run can tell.
        to >= end
          ? { from: round(from), to: null, seconds: null }
          : { from: round(from), to: round(to), seconds: round(to - from) },
      );
  }
}
