import { performance } from "node:perf_hooks";

/** How often the watch looks, and the shortest freeze it reports (the floor of a stall, STALL_MIN_SEC). */
const TICK_MS = 50;
const FREEZE_MIN_MS = 200;

/**
 * Watches this process's event loop: when a tick comes more than FREEZE_MIN_MS late, the loop did not run in
 * between (the process was starved of CPU, stopped, or busy in one long task), and `report` gets the stretch
 * (performance.now() ms). Returns a function that ends the watch.
 */
export function watchFreezes(signal: AbortSignal, report: (from: number, to: number) => void): () => void {
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last > TICK_MS + FREEZE_MIN_MS) report(last + TICK_MS, now);
    last = now;
  }, TICK_MS);
  const stop = () => clearInterval(timer);
  signal.addEventListener("abort", stop, { once: true });
  return stop;
}
