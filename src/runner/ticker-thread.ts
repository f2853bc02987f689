/**
 * The alarm's helper thread (see alarm.ts): sleeps until the armed time with microsecond-grained futex
 * timeouts, then wakes the worker's event loop with a message. It never touches the benchmark's state.
 */
import { parentPort, workerData } from "node:worker_threads";
import { hrMs } from "./hr-clock.js";

const shared = workerData as SharedArrayBuffer;
/** Bumped by the owner on every re-arm; the due time (hrMs, 0: not armed) beside it. */
const seq = new Int32Array(shared, 0, 1);
const due = new Float64Array(shared, 8, 1);

for (;;) {
  const s = Atomics.load(seq, 0);
  const at = due[0];
  if (!(at > 0)) {
    Atomics.wait(seq, 0, s);
    continue;
  }
  const wait = at - hrMs();
  // Re-armed meanwhile ("ok", "not-equal"): read the new time.
  if (wait > 0 && Atomics.wait(seq, 0, s, wait) !== "timed-out") continue;
  if (Atomics.load(seq, 0) !== s) continue;
  parentPort!.postMessage(s);
  Atomics.wait(seq, 0, s); // until the next arming
}
