import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import type { Arrival } from "../plan.js";

/**
 * Open-loop schedule of one worker: the intended start times of its cycles at its share of --rate
 * (uniform spacing, or Poisson arrivals). Free clients take the next slot; a slot already in the past is
 * taken at once, and its latency still counts from the slot's time (no coordinated omission).
 */
export class Pacer {
  private next: number;

  constructor(
    start: number,
    private readonly ratePerSec: number,
    private readonly arrival: Arrival,
    private readonly random: () => number = Math.random,
  ) {
    this.next = start + this.gap();
  }

  private gap(): number {
    const mean = 1000 / this.ratePerSec;
    return this.arrival === "poisson" ? -Math.log(1 - this.random()) * mean : mean;
  }

  /** The next intended start (performance.now() ms), or undefined when it would fall at or after `deadline`. */
  take(deadline = Infinity): number | undefined {
    const t = this.next;
    if (t >= deadline) return undefined;
    this.next += this.gap();
    return t;
  }

  /** Slots that came due before `until` but were never taken (the clients could not keep up). */
  missedBefore(until: number): number {
    return this.next < until ? Math.floor(((until - this.next) * this.ratePerSec) / 1000) + 1 : 0;
  }
}

/** Sleeps until `at` (performance.now() ms); false when the run was stopped meanwhile. */
export async function sleepUntil(at: number, signal: AbortSignal): Promise<boolean> {
  // Timers have millisecond granularity and may fire early or late against performance.now(). Sleep the
  // whole milliseconds, then yield to the event loop until `at` has passed: no cycle starts before its
  // intended time, and the harness adds well under a millisecond of its own lag.
  for (let ms = at - performance.now(); ms > 0; ms = at - performance.now()) {
    if (signal.aborted) return false;
    try {
      if (ms >= 1) await delay(Math.floor(ms), undefined, { signal });
      else await new Promise<void>((resolve) => setImmediate(resolve));
    } catch {
      return false;
    }
  }
  return !signal.aborted;
}
