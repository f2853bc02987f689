/**
 * The alarm's helper thread (see alarm.ts): sleeps until the earliest due time it has not fired yet, with
 * microsecond-grained futex timeouts, then tells the event loop how far it has fired. It goes on to the next
 * due time by itself; it never touches the benchmark's state.
 */
import { parentPort, workerData } from "node:worker_threads";
import { COUNT, IDLE, SEQ, layout } from "./alarm-shared.js";
import { hrMs } from "./hr-clock.js";

const { ctl, times } = layout(workerData as SharedArrayBuffer);
/** How long to wait for the alarm to finish publishing (it never takes long; no spinning meanwhile). */
const TORN_WAIT_MS = 0.05;
let fired = -Infinity;

for (;;) {
  const s = Atomics.load(ctl, SEQ);
  if (s & 1) {
    Atomics.wait(ctl, SEQ, s, TORN_WAIT_MS);
    continue;
  }
  const n = Atomics.load(ctl, COUNT);
  const now = hrMs();
  let due = -Infinity;
  let next = Infinity;
  for (let i = 0; i < n; i++) {
    const t = times[i];
    if (t <= fired) continue;
    if (t <= now) due = Math.max(due, t);
    else next = Math.min(next, t);
  }
  if (Atomics.load(ctl, SEQ) !== s) continue; // published meanwhile: read again
  if (due > fired) {
    fired = due;
    parentPort!.postMessage(due);
  } else if (next === Infinity) {
    // Nothing left to wait for: the alarm wakes us when it publishes more.
    Atomics.store(ctl, IDLE, 1);
    Atomics.wait(ctl, SEQ, s);
    Atomics.store(ctl, IDLE, 0);
  } else {
    // Woken early only by the alarm (a wait that comes before this one); otherwise at `next`.
    Atomics.wait(ctl, SEQ, s, next - now);
  }
}
