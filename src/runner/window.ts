import type { IntervalRecorder } from "../metrics/recorder.js";
import type { Phase } from "../schema/measures.js";

/**
 * A worker's view of the measured window, in performance.now() ms: which phase a cycle belongs to (by its start,
 * the intended one in open loop), and how many of the window's cycles are still running, so that the worker
 * goes on after the window's end until they have finished (the drain) and no longer.
 */
export class CycleWindow {
  /** Unknown until the runner says (a warm-up that ends at steady state): every cycle is the warm-up's. */
  private from: number | undefined;
  private to = Infinity;
  private running = 0;
  private onDrained: (() => void) | undefined;

  /** Opens the window at `from` (ms), to end `lengthMs` later (Infinity: at the stop). */
  open(from: number, lengthMs: number): void {
    this.from = from;
    this.to = from + lengthMs;
  }

  get opened(): boolean {
    return this.from !== undefined;
  }

  get toMs(): number {
    return this.to;
  }

  /** Ends the window now when it would end later (a stop): cycles starting from now on are not its own. */
  closeAt(ms: number): void {
    if (this.from !== undefined && ms < this.to) this.to = Math.max(this.from, ms);
  }

  phaseOf(ms: number): Phase {
    if (this.from === undefined || ms < this.from) return "warmup";
    return ms < this.to ? "window" : "after";
  }

  began(): void {
    this.running++;
  }

  /** A cycle of the window ended at `ms`: after the window's end it was drained. */
  ended(ms: number, rec: IntervalRecorder): void {
    this.running--;
    if (ms >= this.to) rec.drained++;
    if (this.running === 0 && this.onDrained) this.onDrained();
  }

  /** Resolves once no cycle of the window is running (at once when none is). */
  drained(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.onDrained = () => {
        this.onDrained = undefined;
        resolve();
      };
    });
  }
}
