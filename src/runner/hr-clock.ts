/** Milliseconds (fractional) on the monotonic clock: the same in every thread of the process. */
export const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;
