import { performance } from "node:perf_hooks";
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
 * Sleeps on plain timers, to the millisecond: for ramps, think times and back-off, where a millisecond does
 * not matter (open-loop starts wait on the Alarm instead). One listener on the stop signal wakes every
 * sleeper: a listener per sleep is a cost that grows with thousands of clients.
 */
export class Sleeper {
  private readonly pending = new Map<NodeJS.Timeout, (ok: boolean) => void>();

  constructor(private readonly signal: AbortSignal) {
    signal.addEventListener(
      "abort",
      () => {
        for (const [timer, resolve] of this.pending) {
          clearTimeout(timer);
          resolve(false);
        }
        this.pending.clear();
      },
      { once: true },
    );
  }

  /** Resolves true at about `at` (performance.now() ms), or false once the run is stopped. */
  until(at: number): Promise<boolean> {
    if (this.signal.aborted) return Promise.resolve(false);
    const ms = at - performance.now();
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        resolve(true);
      }, Math.ceil(ms));
      this.pending.set(timer, resolve);
    });
  }
}
