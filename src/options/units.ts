import { UsageError } from "../errors.js";

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "500ms", "10s", "5m", "1h", "1m30s", or a bare number of seconds → milliseconds. */
export function parseDuration(text: string, option: string): number {
  const t = String(text).trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== t) {
    throw new UsageError(`${option}: '${text}' is not a duration (examples: 500ms, 10s, 5m, 1h, 1m30s)`);
  }
  return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * DURATION_UNITS[p[2]], 0));
}

/** "5000", "5000/s", "300/m" → operations per second. */
export function parseRate(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/(s|m|h))?$/.exec(String(text).trim());
  const rate = m ? (Number(m[1]) * 1000) / DURATION_UNITS[m[2] ?? "s"] : NaN;
  if (!(rate > 0))
    throw new UsageError(`${option}: '${text}' is not a positive rate (examples: 500, 500/s, 300/m)`);
  return rate;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  return s < 120 ? `${+s.toFixed(1)}s` : `${+(s / 60).toFixed(1)}m`;
}
