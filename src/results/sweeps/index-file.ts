import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { UsageError } from "../../errors.js";
import type { ResultFile } from "../../schema/result.js";
import { SWEEP_SCHEMA, SWEEP_VERSION, type SweepIndex, type SweepPoint } from "../../schema/sweep.js";
import { printableStrings } from "../io/printable.js";
import { readJsonFile, readResult } from "../io/read.js";
import { checkShape } from "../io/validate.js";
import { ensureDir, writeAtomically } from "../io/write.js";

/** Reads a file's JSON only to tell a sweep index from a result file. */
export function isSweepIndex(path: string): boolean {
  try {
    return (readJsonFile(path, "sweep index") as { schema?: string } | null)?.schema === SWEEP_SCHEMA;
  } catch {
    return false;
  }
}

/** Reads and checks a sweep index; anything else is one clear line (exit 2). */
export function readSweepIndex(path: string): SweepIndex {
  const data = readJsonFile(path, "sweep index") as Partial<SweepIndex> | null;
  if (data?.schema !== SWEEP_SCHEMA) throw new UsageError(`${path} is not a dcpbench sweep index`);
  if (data.version !== SWEEP_VERSION)
    throw new UsageError(
      `${path} has sweep version ${JSON.stringify(data.version)}; this dcpbench reads version ${SWEEP_VERSION}`,
    );
  if (!data.plan || !Array.isArray(data.points))
    throw new UsageError(`${path} is missing parts of a sweep index`);
  return printableStrings(checkShape<SweepIndex>(data, path, "sweep"));
}

export function writeSweepIndex(path: string, index: SweepIndex): void {
  ensureDir(dirname(path));
  writeAtomically(path, JSON.stringify(index, null, 1) + "\n");
}

/** A finished point with the result file it wrote. */
export interface LoadedPoint {
  point: SweepPoint;
  result: ResultFile;
}

/**
 * The result files of an index's finished points (paths relative to the index). A listed file that is gone is
 * one clear line: the index would otherwise draw curves with holes nobody asked for.
 */
export function loadSweepPoints(indexPath: string, index: SweepIndex): LoadedPoint[] {
  const dir = dirname(resolve(indexPath));
  return index.points
    .filter((p) => p.file !== null && !p.partial && !p.error)
    .map((point) => {
      const file = join(dir, point.file!);
      if (!existsSync(file)) throw new UsageError(`${indexPath} lists ${point.file}, which is not there`);
      return { point, result: readResult(file) };
    });
}
