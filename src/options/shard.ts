import { UsageError } from "../errors.js";
import { parseDuration } from "./units.js";

/** `--shard I/N`: this process runs shard I (0-based, as a Kubernetes Indexed Job numbers its pods) of N. */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index < count))
    throw new UsageError(`--shard: '${text}' is not I/N with 0 <= I < N (examples: 0/3, 2/3)`);
  return { index, count };
}

/**
 * `--start-at`: an RFC 3339 time with its offset (2026-12-03T10:00:00Z, …+01:00), or `+DURATION` from now
 * (+30s). Returns epoch ms.
 */
export function parseStartAt(text: string, now = Date.now()): number {
  const t = text.trim();
  if (t.startsWith("+")) return now + parseDuration(t.slice(1), "--start-at");
  const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
  const ms = rfc3339.test(t) ? Date.parse(t) : NaN;
  if (!Number.isFinite(ms))
    throw new UsageError(
      `--start-at: '${text}' is not an RFC 3339 time with its offset (2026-12-03T10:00:00Z) or +DURATION (+30s)`,
    );
  return ms;
}
