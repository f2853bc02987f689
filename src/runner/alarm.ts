import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { hrMs } from "./hr-clock.js";

const THREAD = new URL("./ticker-thread.js", import.meta.url);

interface Waiter {
  at: number;
  resolve(ok: boolean): void;
}

/**
 * Sub-millisecond wake-ups for the open-loop schedule. Node's timers fire on whole milliseconds of a cached
 * loop clock (up to a millisecond or more late), and spinning on setImmediate to do better burns a core that
 * belongs to the database. Here one helper thread sleeps until the earliest requested time and wakes the
 * event loop; every wait due by then is released together.
 */
export class Alarm {
  private readonly shared = new SharedArrayBuffer(16);
  private readonly seq = new Int32Array(this.shared, 0, 1);
  private readonly due = new Float64Array(this.shared, 8, 1);
  private readonly thread: Worker;
  /** Sorted by time; slots are handed out in order, so new waits almost always go at the end. */
  private waiters: Waiter[] = [];
  private armedFor = Infinity;
  private closed = false;

  /** `onFail`: the helper thread died (the schedule cannot be kept: the caller should not go on silently). */
  constructor(signal: AbortSignal, onFail: (err: Error) => void) {
    this.thread = new Worker(THREAD, { workerData: this.shared });
    this.thread.unref();
    this.thread.on("message", () => this.fire());
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
    if (at <= performance.now()) return Promise.resolve(true);
    return new Promise((resolve) => {
      let i = this.waiters.length;
      while (i > 0 && this.waiters[i - 1].at > at) i--;
      this.waiters.splice(i, 0, { at, resolve });
      if (at < this.armedFor) this.arm(at);
    });
  }

  private arm(at: number): void {
    this.armedFor = at;
    this.due[0] = hrMs() + (at - performance.now());
    Atomics.add(this.seq, 0, 1);
    Atomics.notify(this.seq, 0);
  }

  private fire(): void {
    const now = performance.now();
    let n = 0;
    while (n < this.waiters.length && this.waiters[n].at <= now) n++;
    const ready = this.waiters.splice(0, n);
    this.armedFor = Infinity;
    if (this.waiters.length) this.arm(this.waiters[0].at);
    for (const w of ready) w.resolve(true);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters) w.resolve(false);
    this.waiters = [];
    void this.thread.terminate();
  }
}
