/** The highest CPU number a list may name (a typo such as 0-99999999 is an error, not a loop). */
const MAX_CPU = 4095;

/** "1", "0,2", "2-5", "0-1,4" → the CPUs in the order given, each once; undefined when it is not such a list. */
export function parseCpuList(text: string): number[] | undefined {
  const out: number[] = [];
  for (const part of String(text).split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    if (hi < lo || hi > MAX_CPU) return undefined;
    for (let c = lo; c <= hi; c++) if (!out.includes(c)) out.push(c);
  }
  return out;
}
