import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { stringify } from "csv-stringify/sync";
import type { ResultFile } from "../schema/result.js";

/** results/<label>_<workload>_<UTC timestamp>.json: sortable, and unique per second and label. */
export function resultBaseName(result: Pick<ResultFile, "label" | "workload" | "startedAt">): string {
  const stamp = result.startedAt.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const workload = result.workload.replace(/[^A-Za-z0-9._-]/g, "_");
  return `${result.label}_${workload}_${stamp}`;
}

/** The timeline as CSV: one row per interval and op. */
export function timelineCsv(result: ResultFile): string {
  const rows = result.timeline.flatMap((e) =>
    Object.entries(e.ops).map(([op, o]) => [
      e.seq,
      e.t,
      e.dt,
      e.ramp,
      op,
      o.count,
      e.dt > 0 ? +(o.count / e.dt).toFixed(2) : 0,
      o.errors,
      o.skipped,
      o.retries,
      o.p50,
      o.p95,
      o.p99,
      o.max,
    ]),
  );
  return stringify(rows, {
    header: true,
    columns: "seq t_s dt_s ramp op count ops_per_s errors skipped retries p50_ms p95_ms p99_ms max_ms".split(
      " ",
    ),
  });
}

/**
 * mkdir -p, one level at a time. (Node's recursive mkdirSync spins forever on some paths, e.g. under /proc.)
 */
export function ensureDir(dir: string): void {
  const abs = resolve(dir);
  if (existsSync(abs)) return;
  const parent = dirname(abs);
  if (parent !== abs) ensureDir(parent);
  mkdirSync(abs);
}

export function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Writes the JSON result and the timeline CSV beside it; returns both paths. */
export function writeResult(result: ResultFile, outDir: string): { json: string; csv: string } {
  ensureDir(outDir);
  const base = join(outDir, resultBaseName(result));
  const json = `${base}.json`;
  const csv = `${base}.csv`;
  writeAtomically(json, JSON.stringify(result, null, 1) + "\n");
  writeAtomically(csv, timelineCsv(result));
  return { json, csv };
}
