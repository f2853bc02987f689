import type { RunPlan } from "../plan.js";
import type { Phase, TimelineEntry } from "../schema/measures.js";
import type { WarmupEnd } from "../schema/window.js";
import { SteadyJudge } from "./steady-state.js";

/**
 * The runner's view of the measured window, in ms after t0: fixed by the plan (a --warmup of a set length), or
 * opened when the warm-up has reached steady state (`--warmup auto`). One rule places every interval: before
 * the window, in it, or after its end.
 */
export class RunWindow {
  fromMs: number | undefined;
  warmup: { endedBy: WarmupEnd; detail: string } | undefined;
  private readonly judge: SteadyJudge | undefined;

  constructor(private readonly plan: RunPlan) {
    const warmupMs = plan.warmupMs;
    if (plan.warmupAuto) {
      this.judge = new SteadyJudge({
        intervalMs: plan.intervalMs,
        rampMs: plan.rampMs,
        minMs: warmupMs,
        maxMs: plan.warmupAuto.maxMs,
      });
    } else {
      this.fromMs = plan.windowFromMs;
      this.warmup =
        warmupMs > 0
          ? { endedBy: "fixed", detail: `a fixed warm-up of ${warmupMs / 1000} s` }
          : { endedBy: "none", detail: "no warm-up" };
    }
  }

  /** The window's planned end (ms after t0), once it is open; null: none planned (iterations, or until stopped). */
  get toMs(): number | null {
    return this.fromMs === undefined || this.plan.durationMs === undefined
      ? null
      : this.fromMs + this.plan.durationMs;
  }

  /** The phase of interval `seq` (nominally [(seq−1)·I, seq·I] after t0). */
  phaseOf(seq: number): Phase {
    const I = this.plan.intervalMs;
    if (this.fromMs === undefined || seq * I <= this.fromMs) return "warmup";
    const to = this.toMs;
    return to !== null && (seq - 1) * I >= to ? "after" : "window";
  }

  /**
   * Auto warm-up: takes a merged interval and, `nowMs` after t0, decides whether the window opens. Returns its
   * start (ms after t0, on the interval grid, at least one interval from now) when it does.
   */
  consider(entry: TimelineEntry, nowMs: number): number | undefined {
    if (!this.judge || this.fromMs !== undefined) return undefined;
    this.judge.add(entry);
    const I = this.plan.intervalMs;
    const from = Math.ceil((nowMs + I) / I) * I;
    const verdict = this.judge.verdict(from);
    if (!verdict) return undefined;
    this.fromMs = from;
    this.warmup = verdict;
    return from;
  }
}
