/**
 * Change from base to value in %, or undefined when a run lacks the op. From 0 to more is +Infinity: the
 * usual CI regression (no errors before, some now) must cross `errors>+N%`.
 */
export function changePct(base: number | undefined, value: number | undefined): number | undefined {
  if (base === undefined || value === undefined) return undefined;
  if (base === 0) return value === 0 ? 0 : Infinity;
  return ((value - base) / base) * 100;
}
