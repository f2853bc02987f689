import { formatDuration } from "../options/units.js";
import type { ResultFile } from "../schema/result.js";
import { generatorBoundNote } from "./generator-bound.js";

type Noted = Pick<ResultFile, "label" | "plan" | "summary"> &
  Partial<Pick<ResultFile, "window" | "generator" | "stalls" | "serverSide">>;

/** The warm-up as it was: "auto, 12 s (steady)", "fixed 2 s", or as planned for files from before. */
export function warmupText(r: Pick<ResultFile, "plan"> & Partial<Pick<ResultFile, "window">>): string {
  const w = r.window?.warmup;
  if (w) {
    if (w.endedBy === "none") return "none";
    if (w.endedBy === "fixed") return `fixed ${w.seconds} s`;
    return `auto, ${w.seconds} s (${w.endedBy === "steady" ? "steady" : "NOT steady: --warmup-max"})`;
  }
  return formatDuration(r.plan.warmupMs ?? 0);
}

/** Whether a run opened server connections during its window: it was measured while its pools filled. */
export function measuredCold(r: Noted): string | undefined {
  const a = r.window?.atStart;
  const b = r.window?.atEnd;
  if (!a || !b || r.plan.connectPerTxn) return undefined;
  if (a.poolerServerConns !== undefined && b.poolerServerConns !== undefined) {
    return b.poolerServerConns > a.poolerServerConns
      ? `measured cold: its PgBouncers opened server connections during the window (${a.poolerServerConns} → ${b.poolerServerConns})`
      : undefined;
  }
  if (a.dbSessions !== undefined && b.dbSessions !== undefined && b.dbSessions > a.dbSessions)
    return `measured cold: the server's sessions grew during the window (${a.dbSessions} → ${b.dbSessions})`;
  return undefined;
}

/** "pgbouncer-1 used 97% of a core": the PgBouncers that bound the pooled side, or undefined. */
export function poolerBound(r: Pick<ResultFile, "serverSide">): string | undefined {
  const bound = r.serverSide?.poolerBound ?? [];
  return bound.length
    ? `pooler-bound: ${bound.map((b) => `${b.member} used ${Math.round(b.cpuPct)}% of a core`).join(", ")} over the window (a PgBouncer runs on one thread): the pooler, not the database, set this run's pace`
    : undefined;
}

/**
 * What a reader must know about how a run's window was measured, one sentence each, prefixed with its label:
 * a generator that bounded it, a window it did not fully measure, a warm-up that never reached steady state,
 * pools still filling, a PgBouncer at the end of its one core, cycles cut off. Empty when there is nothing to say.
 */
export function windowNotes(r: Noted): string[] {
  const out: string[] = [];
  const w = r.window;
  if (!w && r.generator) out.push("it ended before its window opened (in the warm-up): nothing was measured");
  if (r.generator?.starved)
    out.push(`the load generator was the bottleneck: ${r.generator.reasons.join("; ")}`);
  else if (!r.generator) {
    // Files from before the verdict: the start-lag note alone.
    const note = generatorBoundNote(r);
    if (note) out.push(note.replace(`${r.label}: `, ""));
  }
  if (w && w.measuredSec < w.seconds - 0.05)
    out.push(
      `the load generator kept its interval clock for ${w.measuredSec.toFixed(1)} s of the ${w.seconds.toFixed(1)} s window (a process of it was frozen for the rest)`,
    );
  if (w?.warmup.endedBy === "max")
    out.push(`the window opened before the run was steady: ${w.warmup.detail}`);
  const cold = measuredCold(r);
  if (cold) out.push(cold);
  const pooler = poolerBound(r);
  if (pooler) out.push(pooler);
  if (w && w.cutOff > 0)
    out.push(
      `${w.cutOff} cycle(s) of the window were still running when its ${w.drainSec.toFixed(1)} s drain ended (--drain): they are in neither the counts nor the percentiles`,
    );
  return out.map((line) => `${r.label}: ${line}`);
}
