import { CYCLE, type TimelineEntry } from "../schema/measures.js";
import type { WarmupEnd } from "../schema/window.js";

export interface SteadyOptions {
  intervalMs: number;
  rampMs: number;
  /** The warm-up lasts at least this long after the ramp, and at most `maxMs`. */
  minMs: number;
  maxMs: number;
}

export interface SteadyVerdict {
  endedBy: Extract<WarmupEnd, "steady" | "max">;
  detail: string;
}

interface Point {
  t: number;
  cycles: number;
  p50: number | undefined;
  conns: number | undefined;
  /** PgBouncer: the server connections its pools may open, and the clients waiting for one. */
  poolSize: number | undefined;
  waiting: number | undefined;
}

/** Spans compared, in intervals: at least 3, and two cycles' worth, so that a slow cycle's rhythm averages out. */
const MIN_SPAN = 3;
const MAX_SPAN = 10;
/** Two spans' cycle counts agree when they differ by at most this share (or two Poisson deviations, if more). */
const RATE_TOLERANCE = 0.1;

/**
 * The server connections an interval's samples show: the PgBouncers' when they were sampled (what a pool
 * still filling opens), else the server's backends.
 */
export function serverConnections(observed: Record<string, number> | undefined): number | undefined {
  if (!observed) return undefined;
  if (observed.pgb_sv_active !== undefined)
    return observed.pgb_sv_active + (observed.pgb_sv_idle ?? 0) + (observed.pgb_sv_used ?? 0);
  return observed.db_sessions;
}

/**
 * Decides when a warm-up has reached steady state: the cycles completed over the last span and the one before
 * agree, and the server connections (the poolers' when sampled, else the server's backends) have not grown
 * over the last span. Past `maxMs` it gives up and says what was still moving.
 */
export class SteadyJudge {
  private readonly points: Point[] = [];

  constructor(private readonly opts: SteadyOptions) {}

  add(entry: TimelineEntry): void {
    if (entry.t * 1000 <= this.opts.rampMs) return;
    const cycle = entry.ops[CYCLE];
    this.points.push({
      t: entry.t,
      cycles: cycle?.count ?? 0,
      p50: cycle?.count ? cycle.p50 : undefined,
      conns: serverConnections(entry.observed),
      poolSize: entry.observed?.pgb_pool_size,
      waiting: entry.observed?.pgb_cl_waiting,
    });
  }

  /** Intervals per span: two cycles' worth (by the latest median), within bounds. */
  private span(): number {
    const p50 = [...this.points].reverse().find((p) => p.p50 !== undefined)?.p50 ?? 0;
    return Math.min(MAX_SPAN, Math.max(MIN_SPAN, Math.ceil((2 * p50) / this.opts.intervalMs)));
  }

  /** The verdict once the warm-up may end (`nowMs` after t0: the time the window would open by), else undefined. */
  verdict(nowMs: number): SteadyVerdict | undefined {
    const warmedMs = nowMs - this.opts.rampMs;
    if (warmedMs < this.opts.minMs) return undefined;
    const w = this.span();
    const spanSec = (w * this.opts.intervalMs) / 1000;
    const enough = this.points.length >= 2 * w;
    const recent = this.points.slice(-w);
    const before = this.points.slice(-2 * w, -w);
    const a = recent.reduce((n, p) => n + p.cycles, 0);
    const b = before.reduce((n, p) => n + p.cycles, 0);
    const big = Math.max(a, b);
    // Slow cycles in step (every client sleeping alike) leave intervals with no completion, and make the counts
    // of equal spans differ by up to one cycle per client: a cycle's share of the span. Out of step, they do not.
    const p50 = [...this.points].reverse().find((p) => p.p50 !== undefined)?.p50 ?? 0;
    const lastTwo = this.points.slice(-2 * w);
    const inStep = lastTwo.filter((p) => p.cycles === 0).length >= lastTwo.length / 4;
    const tolerance = Math.max(
      RATE_TOLERANCE,
      big > 0 ? 2 / Math.sqrt(big) : 1,
      inStep ? p50 / (w * this.opts.intervalMs) : 0,
    );
    const rateOk = enough && big > 0 && Math.abs(a - b) <= tolerance * big;
    const rate = enough
      ? `cycles ${b} then ${a} over two ${spanSec} s spans (${big > 0 ? `${(((a - b) / big) * 100).toFixed(1)}%` : "none"}, ±${(tolerance * 100).toFixed(0)}% allowed)`
      : `fewer than two ${spanSec} s spans of cycles`;
    const connsNow = recent.at(-1)?.conns;
    const connsThen = (before.at(-1) ?? this.points[0])?.conns;
    const sampled = connsNow !== undefined && connsThen !== undefined;
    // PgBouncer opens server connections one login at a time and can sit flat for a while between them: clients
    // waiting while its pools are below their size mean they are still filling, however flat the last span was.
    const last = recent.at(-1);
    const filling =
      !!last?.poolSize && !!last.waiting && last.conns !== undefined && last.conns < last.poolSize;
    const connsOk = (!sampled || connsNow <= connsThen) && !filling;
    const conns = sampled
      ? `server connections ${connsThen} → ${connsNow}` +
        (filling
          ? ` of ${last!.poolSize}, ${last!.waiting} clients waiting (still filling)`
          : connsOk
            ? ""
            : " (still growing)")
      : "server connections not sampled";
    const at = `${(warmedMs / 1000).toFixed(0)} s`;
    if (rateOk && connsOk) return { endedBy: "steady", detail: `steady after ${at}: ${rate}; ${conns}` };
    if (warmedMs >= this.opts.maxMs)
      return {
        endedBy: "max",
        detail: `not steady after the ${at} allowed (--warmup-max): ${rate}; ${conns}`,
      };
    return undefined;
  }
}
