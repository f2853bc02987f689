import { randomBytes } from "node:crypto";
import { existsSync, linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { stringify } from "csv-stringify/sync";
import type { ResultFile } from "../../schema/result.js";

/** results/<label>_<workload>_<UTC timestamp>: sortable; writeResult makes it unique. */
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

/** A name beside `path` that no other writer picks: this process's id and a random part. */
function asideOf(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
}

/** Writes `text` beside `path`, hands the written file to `publish`, and never leaves the aside file behind. */
function writeAside<T>(path: string, text: string, publish: (aside: string) => T): T {
  const aside = asideOf(path);
  try {
    writeFileSync(aside, text, { flag: "wx" });
    return publish(aside);
  } finally {
    rmSync(aside, { force: true });
  }
}

/** Replaces `path` with `text` in one step: a reader sees the old file or the new one, never a part. */
export function writeAtomically(path: string, text: string): void {
  writeAside(path, text, (aside) => renameSync(aside, path));
}

/**
 * Creates `path` with `text` in one step, only if nothing is there (a hard link never replaces); false when the
 * name is taken.
 */
export function createAtomically(path: string, text: string): boolean {
  return writeAside(path, text, (aside) => {
    try {
      linkSync(aside, path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    }
  });
}

/**
 * Writes a result (JSON, and its timeline CSV beside it) as `<base>.json`, or `<base>-2.json`, `-3` … when
 * another run took the name: a result never replaces another. Returns both paths.
 */
export function writeResultAs(result: ResultFile, base: string): { json: string; csv: string } {
  const json = JSON.stringify(result, null, 1) + "\n";
  const csv = timelineCsv(result);
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    if (!createAtomically(`${name}.json`, json)) continue;
    let csvDone = false;
    try {
      csvDone = createAtomically(`${name}.csv`, csv);
    } finally {
      if (!csvDone) rmSync(`${name}.json`, { force: true });
    }
    if (csvDone) return { json: `${name}.json`, csv: `${name}.csv` };
  }
}

/**
 * Saves into `dir` with `save`; when that fails (the directory removed, not writable, or full), into a new
 * temporary directory, named through `say`: what was computed is never lost.
 */
export function saveWithFallback<T>(
  what: string,
  dir: string,
  save: (dir: string) => T,
  say: (line: string) => void,
): T {
  try {
    return save(dir);
  } catch (err) {
    const fallback = mkdtempSync(join(tmpdir(), "dcpbench-result-"));
    const saved = save(fallback);
    say(
      `dcpbench: cannot write ${what} to ${dir} (${(err as Error).message}); saved it in ${fallback} instead`,
    );
    return saved;
  }
}

/** Writes the JSON result and the timeline CSV beside it, under a name of its own in `outDir`. */
export function writeResult(result: ResultFile, outDir: string): { json: string; csv: string } {
  ensureDir(outDir);
  return writeResultAs(result, join(outDir, resultBaseName(result)));
}
