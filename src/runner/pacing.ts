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

/**
 * Sleeps until about `at` (performance.now() ms), to the timer's millisecond; false when the run was stopped
 * meanwhile. For ramps, think times and back-off, where a millisecond does not matter (open-loop starts wait
 * on the Alarm instead).
 */
export async function sleepUntil(at: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  const ms = at - performance.now();
  if (ms <= 0) return true;
  try {
    await delay(Math.ceil(ms), undefined, { signal });
  } catch {
    return false;
  }
  return !signal.aborted;
}
