import type { Aggregator } from "../metrics/aggregate.js";
import type { Snapshot } from "../metrics/snapshot.js";
import type { Phase, TimelineEntry } from "../schema/measures.js";

/** What the merge needs to know of a worker: whether to wait for its snapshot of an interval. */
export interface SnapshotSource {
  readonly index: number;
  readonly dead: boolean;
  /** The sequence number of its final snapshot, once it was sent. */
  readonly finalSeq: number | undefined;
}

/** Where an interval falls: before the measured window, in it, or after its end. */
export interface IntervalPhases {
  phaseOf(seq: number): Phase;
}

/**
 * Merges the workers' interval snapshots in order: interval k once every worker that is still expected to
 * send it did (or, when flushed at the end, whatever arrived).
 */
export class IntervalMerger {
  private readonly pending = new Map<number, Map<number, Snapshot>>();
  private nextSeq = 1;
  private lastT = 0;

  constructor(
    private readonly phases: IntervalPhases,
    private readonly agg: Aggregator,
    private readonly sources: readonly SnapshotSource[],
  ) {}

  add(worker: number, snap: Snapshot): void {
    let bySeq = this.pending.get(snap.seq);
    if (!bySeq) this.pending.set(snap.seq, (bySeq = new Map()));
    bySeq.set(worker, snap);
  }

  private complete(seq: number, snaps: Map<number, Snapshot>): boolean {
    return this.sources.every(
      (s) => s.dead || snaps.has(s.index) || (s.finalSeq !== undefined && s.finalSeq < seq),
    );
  }

  /**
   * The timeline entries that can be made now, in order, each merged only when the caller asks for the next
   * (so that what it does with one sees the totals up to that one); with `flush`, every one that has a snapshot.
   */
  *take(flush: boolean): Generator<TimelineEntry> {
    for (;;) {
      const snaps = this.pending.get(this.nextSeq);
      if (!snaps) {
        if (!flush || this.pending.size === 0) return;
        this.nextSeq++;
        continue;
      }
      if (!flush && !this.complete(this.nextSeq, snaps)) return;
      this.pending.delete(this.nextSeq);
      yield this.merge(this.nextSeq++, [...snaps.values()]);
    }
  }

  private merge(seq: number, list: Snapshot[]): TimelineEntry {
    // Workers' clocks differ by a little: never let the timeline go back in time.
    const t = Math.max(this.lastT, ...list.map((s) => s.t));
    const dt = t - this.lastT;
    this.lastT = t;
    return this.agg.addInterval(seq, +t.toFixed(3), +dt.toFixed(3), this.phases.phaseOf(seq), list);
  }
}
