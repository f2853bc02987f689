/**
 * The memory the alarm (event loop) and its helper thread share: a control word array and the earliest due
 * times, hrMs, sorted. Written by the alarm only, under a seqlock; the thread only reads them (and IDLE).
 */

/** How many of the earliest waits the thread sees. */
export const AHEAD = 16;
/** Control words: the seqlock (even: stable), how many times are valid, and 1 while the thread has none left. */
export const SEQ = 0;
export const COUNT = 1;
export const IDLE = 2;
const CONTROL_WORDS = 4;

export interface AlarmShared {
  buffer: SharedArrayBuffer;
  ctl: Int32Array;
  times: Float64Array;
}

export function layout(buffer = new SharedArrayBuffer(CONTROL_WORDS * 4 + AHEAD * 8)): AlarmShared {
  return {
    buffer,
    ctl: new Int32Array(buffer, 0, CONTROL_WORDS),
    times: new Float64Array(buffer, CONTROL_WORDS * 4, AHEAD),
  };
}
