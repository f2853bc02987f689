import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { hrMs } from "./hr-clock.js";
import { AHEAD, COUNT, IDLE, SEQ, layout } from "./alarm-shared.js";

const THREAD = new URL("./ticker-thread.js", import.meta.url);

interface Waiter {
  /** performance.now() ms. */
  at: number;
  /** The same time on the thread's clock (hrMs). */
  due: number;
  resolve(ok: boolean): void;
}

/**
 * Sub-millisecond wake-ups for the open-loop schedule. Node's timers fire on whole milliseconds of a cached
 * loop clock (up to a millisecond or more late), and spinning on setImmediate to do better burns a core that
 * belongs to the database. Here one helper thread sleeps until the earliest requested time and wakes the
 * event loop; every wait due by then is released together.
 *
 * The thread sees the earliest waits (up to AHEAD of them) in shared memory, so it goes on to the next one by
 * itself: the event loop is not needed to re-arm it after every wake-up (a second thread wake-up per start,
 * and a late event loop would have delayed every start behind it). It is woken only when it has nothing left
 * to wait for, or when a wait comes before those it knows.
 */
export class Alarm {
  private readonly shared = layout();
  /** hrMs − performance.now(), read in that order so it errs high: a due time on the thread's clock is never early. */
  private readonly offset: number;
  /** Sorted by time; slots are handed out in order, so new waits almost always go at the end. */
  private waiters: Waiter[] = [];
  /** The latest due time the thread has reported firing: a wait due by then is over already. */
  private fired = -Infinity;
  private readonly thread: Worker;
  private closed = false;

  /** `onFail`: the helper thread died (the schedule cannot be kept: the caller should not go on silently). */
  constructor(signal: AbortSignal, onFail: (err: Error) => void) {
    const before = performance.now();
    const hr = hrMs();
    this.offset = hr - before;
    this.thread = new Worker(THREAD, { workerData: this.shared.buffer });
    this.thread.unref();
    this.thread.on("message", (firedUpTo: number) => this.fire(firedUpTo));
    const failed = (err: Error) => {
      if (this.closed) return;
      this.close();
      onFail(err);
    };
    this.thread.on("error", failed);
    this.thread.on("exit", (code) => failed(new Error(`pacing thread exited (code ${code})`)));
    signal.addEventListener("abort", () => this.close(), { once: true });
  }

  /** Resolves at `at` (performance.now() ms), true; or false once the run is stopped. */
  until(at: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    const due = at + this.offset;
    if (at <= performance.now() || due <= this.fired) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = this.waiters;
      let i = w.length;
      while (i > 0 && w[i - 1].at > at) i--;
      w.splice(i, 0, { at, due, resolve });
      if (i >= AHEAD) return; // beyond what the thread looks at: it will see it in time
      this.publish();
      // Before a wait the thread knows of (it may be sleeping past this one), or the thread is idle.
      if (i < w.length - 1 || Atomics.load(this.shared.ctl, IDLE) === 1) Atomics.notify(this.shared.ctl, SEQ);
    });
  }

  /** The earliest waits, for the thread: a seqlock (odd while being written). */
  private publish(): void {
    const { ctl, times } = this.shared;
    Atomics.add(ctl, SEQ, 1);
    const n = Math.min(AHEAD, this.waiters.length);
    for (let i = 0; i < n; i++) times[i] = this.waiters[i].due;
    Atomics.store(ctl, COUNT, n);
    Atomics.add(ctl, SEQ, 1);
  }

  /**
   * Releases the waits already due, from the event loop while it is awake anyway (a cycle just ended): sooner
   * than the thread's message, which queues behind whatever the loop is doing. The thread then finds them gone.
   */
  releaseDue(): void {
    if (!this.closed && this.waiters.length && this.waiters[0].at <= performance.now()) this.fire(-Infinity);
  }

  /** The thread's report: everything due up to `firedUpTo` (its clock) is released, and what is past anyway. */
  private fire(firedUpTo: number): void {
    if (this.closed) return;
    if (firedUpTo > this.fired) this.fired = firedUpTo;
    const now = performance.now();
    const w = this.waiters;
    let n = 0;
    while (n < w.length && (w[n].due <= this.fired || w[n].at <= now)) n++;
    if (n === 0) return;
    const ready = w.splice(0, n);
    this.publish();
    // The thread may have run out of waits it knew of while more were queued behind them.
    if (w.length && Atomics.load(this.shared.ctl, IDLE) === 1) Atomics.notify(this.shared.ctl, SEQ);
    for (const r of ready) r.resolve(true);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters) w.resolve(false);
    this.waiters = [];
    void this.thread.terminate();
  }
}
