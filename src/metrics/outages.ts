import type { Outage } from "../schema/measures.js";

/**
 * One client's availability: the time of its last success, and the outage in progress (from that success
 * through the first error after it), reported when the client succeeds again or when the run ends.
 */
export class OutageTracker {
  private lastOk: number | undefined;
  private open: Omit<Outage, "to"> | undefined;

  constructor(
    private readonly client: number,
    private readonly report: (outage: Outage) => void,
  ) {}

  /** A success at `now` (seconds since t0): ends the outage in progress, if any. */
  succeeded(now: number): void {
    if (this.open) {
      this.report({ ...this.open, to: now });
      this.open = undefined;
    }
    this.lastOk = now;
  }

  /** An error at `now`: starts an outage (from the last success, or the start of the run) or adds to it. */
  failed(now: number, ambiguous: boolean): void {
    this.open ??= {
      client: this.client,
      from: this.lastOk ?? Math.min(0, now),
      firstError: now,
      errors: 0,
      ambiguous: 0,
    };
    this.open.errors++;
    if (ambiguous) this.open.ambiguous++;
  }

  /** At the end: an outage still open is reported with no end, so that it is never lost. */
  endOpen(): void {
    if (this.open) this.report({ ...this.open, to: null });
    this.open = undefined;
  }
}
