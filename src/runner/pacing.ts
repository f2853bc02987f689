import { performance } from "node:perf_hooks";
import type { Arrival } from "../schema/plan.js";

export interface PacerOptions {
  /** performance.now() ms: when the schedule begins (the ramp's start, or the run's without one). */
  start: number;
  /** The arrival rate rises linearly from 0 to `ratePerSec` over this long (k6's ramping arrival rate). */
  rampMs: number;
  ratePerSec: number;
  arrival: Arrival;
  /**
   * Uniform arrivals: how far into the first spacing this worker's slots fall (0–1). Worker i of W takes i/W,
   * so that the workers' slots interleave instead of coinciding (W starts at once, then none).
   */
  phase?: number;
  /** A schedule joined late (a shard after its --start-at): its slots before this time are not its to take. */
  notBefore?: number;
  random?: () => number;
}

/**
 * Open-loop schedule of one worker: the intended start times of its cycles at its share of --rate
 * (uniform spacing, or Poisson arrivals), after a linear ramp of the rate when there is one. Free clients
 * take the next slot; a slot already in the past is taken at once, and its latency still counts from the
 * slot's time (no coordinated omission).
 *
 * Slots are counted in expected arrivals (`units`: 1 apart when uniform, exponential gaps of mean 1 for
 * Poisson) and mapped to time through the rate's integral, so the ramp and the steady rate are one schedule.
 */
export class Pacer {
  private readonly start: number;
  private readonly rampMs: number;
  /** Arrivals per ms at full rate. */
  private readonly perMs: number;
  /** Expected arrivals in the ramp (the rate's integral over it). */
  private readonly rampUnits: number;
  private readonly arrival: Arrival;
  private readonly random: () => number;
  /** The next slot, in expected arrivals since the start. */
  private units: number;

  constructor(opts: PacerOptions) {
    this.start = opts.start;
    this.rampMs = opts.rampMs;
    this.perMs = opts.ratePerSec / 1000;
    this.rampUnits = (this.perMs * this.rampMs) / 2;
    this.arrival = opts.arrival;
    this.random = opts.random ?? Math.random;
    // Uniform slots fall at (k + phase) spacings, k from 0: a window of T seconds holds exactly T × rate of them.
    this.units = this.arrival === "uniform" ? (opts.phase ?? 0) : this.gap();
    if (opts.notBefore !== undefined && opts.notBefore > this.start)
      this.units += Math.ceil(this.unitsBy(opts.notBefore));
  }

  private gap(): number {
    return this.arrival === "poisson" ? -Math.log(1 - this.random()) : 1;
  }

  /** The time (performance.now() ms) by which `units` arrivals are expected. */
  private timeOf(units: number): number {
    if (units < this.rampUnits) return this.start + Math.sqrt((2 * units * this.rampMs) / this.perMs);
    return this.start + this.rampMs + (units - this.rampUnits) / this.perMs;
  }

  /** The arrivals expected by `t` (the inverse of timeOf). */
  private unitsBy(t: number): number {
    const dt = t - this.start;
    if (dt <= 0) return 0;
    if (dt < this.rampMs) return (this.perMs * dt * dt) / (2 * this.rampMs);
    return this.rampUnits + (dt - this.rampMs) * this.perMs;
  }

  /** The next intended start (performance.now() ms), or undefined when it would fall at or after `deadline`. */
  take(deadline = Infinity): number | undefined {
    const t = this.timeOf(this.units);
    if (t >= deadline) return undefined;
    this.units += this.gap();
    return t;
  }

  /** Slots that came due before `until` but were never taken (the clients could not keep up). */
  missedBefore(until: number): number {
    const due = this.unitsBy(until);
    return this.units < due ? Math.floor(due - this.units) + 1 : 0;
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
