import { redactUri, validateUri } from "../db/uri.js";
import { UsageError } from "../errors.js";
import { seriesOf } from "../results/sweeps/summary.js";
import type { SweepPlan, SweepTarget } from "../schema/sweep.js";

/** A target as the sweep uses it: the URI may hold a password and is never saved as is. */
export interface LiveTarget extends SweepTarget {
  liveUri: string;
}

/** One run of a sweep. */
export interface PointSpec {
  target: string;
  conns: number;
  poolSize: number | null;
  procs?: number;
  repeat: number;
}

const TARGET_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
const POOLING_SUFFIX = ",txn-pooling";

/**
 * `--target NAME=URI[,txn-pooling]`: only a final `,txn-pooling` is taken, so that a libpq host list
 * (`host=a,b` in the query string) stays part of the URI.
 */
export function parseTarget(spec: string): Omit<LiveTarget, "uri"> {
  const eq = spec.indexOf("=");
  const name = spec.slice(0, Math.max(0, eq));
  // Echo the name only when it is one: before the first '=' there may be a URI with its password.
  const named = eq > 0 && TARGET_NAME.test(name);
  const bad = (why: string) =>
    new UsageError(
      `--target '${named ? `${name}=${redactUri(spec.slice(eq + 1))}` : redactUri(spec)}': ${why} ` +
        "(expected NAME=URI or NAME=URI,txn-pooling)",
    );
  if (!named)
    throw bad(eq <= 0 ? "no NAME=" : "NAME= must come first: a letter, then letters, digits, '_' or '-'");
  let uri = spec.slice(eq + 1);
  const txnPooling = uri.endsWith(POOLING_SUFFIX);
  if (txnPooling) uri = uri.slice(0, -POOLING_SUFFIX.length);
  validateUri(uri, `--target ${name}`);
  return { name, liveUri: uri, txnPooling };
}

/** A comma-separated list of positive integers, each once: `8,32,128`. Returned ascending. */
export function parseCounts(text: string, option: string): number[] {
  const parts = String(text)
    .split(",")
    .map((s) => s.trim());
  const values = parts.map(Number);
  const wrong = parts.find((p, i) => !/^\d+$/.test(p) || values[i] <= 0);
  if (wrong !== undefined)
    throw new UsageError(`${option}: '${wrong}' is not a positive integer (example: 8,32,128)`);
  const repeated = values.find((v, i) => values.indexOf(v) !== i);
  if (repeated !== undefined) throw new UsageError(`${option}: ${repeated} is given twice`);
  return [...values].sort((a, b) => a - b);
}

export function checkTargets(targets: Array<{ name: string }>): void {
  const names = targets.map((t) => t.name);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated) throw new UsageError(`--target: the name '${repeated}' is given twice`);
}

/**
 * The order the points run in. Round by round (repeat 1 of every point, then repeat 2 …), client counts
 * ascending within a round, and at each client count every target (and pool size) back to back, their order
 * reversed every other round: drift of the machine over the sweep hits every target and every point alike.
 */
export function pointOrder(
  plan: Pick<SweepPlan, "conns" | "poolSizes" | "pgbouncerProcs" | "repeat" | "targets">,
): PointSpec[] {
  const out: PointSpec[] = [];
  const lines = seriesOf(plan);
  for (let repeat = 1; repeat <= plan.repeat; repeat++) {
    for (const conns of plan.conns) {
      const block = lines.map(({ target, poolSize, procs }) => ({
        target: target.name,
        conns,
        poolSize,
        ...(procs !== undefined ? { procs } : {}),
        repeat,
      }));
      out.push(...(repeat % 2 === 0 ? block.reverse() : block));
    }
  }
  return out;
}

export const samePoint = (a: PointSpec, b: PointSpec): boolean =>
  a.target === b.target &&
  a.conns === b.conns &&
  a.poolSize === b.poolSize &&
  a.procs === b.procs &&
  a.repeat === b.repeat;

/** The point's run label (a file-name-safe name): `pooled-c64-p32-r2`, `pooled-c64-x2-r1` with 2 PgBouncer processes. */
export function pointLabel(p: PointSpec): string {
  const pool = p.poolSize !== null ? `-p${p.poolSize}` : "";
  const procs = p.procs !== undefined ? `-x${p.procs}` : "";
  return `${p.target}-c${p.conns}${pool}${procs}-r${p.repeat}`;
}

/** The first field in which two sweep plans differ (for --resume), or undefined when they are the same. */
export function planDifference(saved: SweepPlan, given: SweepPlan): string | undefined {
  const keys = new Set([...Object.keys(saved), ...Object.keys(given)]) as Set<keyof SweepPlan>;
  for (const k of keys) {
    if (k === "run") {
      const runKeys = new Set([...Object.keys(saved.run), ...Object.keys(given.run)]);
      for (const r of runKeys) {
        const a = JSON.stringify(saved.run[r as keyof SweepPlan["run"]]);
        const b = JSON.stringify(given.run[r as keyof SweepPlan["run"]]);
        if (a !== b) return `${r} (${a ?? "unset"} in the index, ${b ?? "unset"} now)`;
      }
      continue;
    }
    const a = JSON.stringify(saved[k]);
    const b = JSON.stringify(given[k]);
    if (a !== b) return `${k} (${a ?? "unset"} in the index, ${b ?? "unset"} now)`;
  }
  return undefined;
}
