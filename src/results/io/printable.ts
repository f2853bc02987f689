/** C0 and C1 control characters and DEL: what a terminal may act on (escape sequences, bells, titles). */
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/** The text with every control character replaced by a space, safe to print. */
export function printable(text: string): string {
  return text.replace(CONTROLS, " ");
}

/**
 * A copy of `value` with every string in it, keys included, made printable: what came from a file or a server
 * never reaches the terminal raw.
 */
export function printableStrings<T>(value: T): T {
  if (typeof value === "string") return printable(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => printableStrings(v)) as T;
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [printable(k), printableStrings(v)]),
    ) as T;
  return value;
}
