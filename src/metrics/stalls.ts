import { STALL_MIN_SEC, type Snapshot } from "./snapshot.js";

/** A stretch in which no cycle succeeded anywhere (seconds since t0); `to` null: it lasted until the end. */
export interface SystemStall {
  from: number;
  to: number | null;
  seconds: number | null;
}

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

/**
 * Collects each worker's stalls and finds the system's: the times when every worker was silent at once (a
 * worker that has ended counts as silent from its end on). A restarted database behind a pooler shows here
 * even when no client saw an error, because queued clients simply wait.
 */
export class StallTracker {
  private readonly workers = new Map<number, { spans: Span[]; end: number }>();

  add(worker: number, snap: Pick<Snapshot, "t" | "stalls">): void {
    let w = this.workers.get(worker);
    if (!w) this.workers.set(worker, (w = { spans: [], end: 0 }));
    for (const s of snap.stalls ?? []) w.spans.push([s.from, s.to]);
    w.end = Math.max(w.end, snap.t);
  }

  system(): SystemStall[] {
    if (this.workers.size === 0) return [];
    const ends = [...this.workers.values()].map((w) => w.end);
    const runEnd = Math.max(...ends);
    let common: Span[] | undefined;
    for (const w of this.workers.values()) {
      const silent = union([...w.spans, [w.end, Infinity]]);
      common = common ? intersect(common, silent) : silent;
    }
    return (common ?? [])
      .filter(([from, to]) => Math.min(to, runEnd) - from >= STALL_MIN_SEC)
      .map(([from, to]) =>
        to === Infinity
          ? { from: round(from), to: null, seconds: null }
          : { from: round(from), to: round(to), seconds: round(to - from) },
      );
  }
}
