import type { ResultFile } from "../../schema/result.js";
import { changePct } from "./change.js";
import { FIGURES, SERVER_SIDE_FIGURES, type Figure } from "../figures.js";

/** One "server side" figure per run, with its change against the first run: what the database paid. */
export interface ServerSideRow {
  /** As shown: "server CPU per transaction". */
  name: string;
  /** As `--fail-if server.KEY>+20%` names it: "cpuPerTxnMs". */
  key: string;
  unit: Figure["unit"];
  values: Array<number | undefined>;
  changes: Array<number | undefined>;
  /** undefined: neither direction is better in itself (CPU % rises with the work done). */
  lowerIsBetter: boolean | undefined;
}

export const SERVER_SIDE_KEYS: readonly string[] = SERVER_SIDE_FIGURES;

/** The figures any of the runs has; "lock waits" and the like are means of the per-interval samples. */
export function serverSideRows(results: ResultFile[]): ServerSideRow[] {
  return SERVER_SIDE_FIGURES.map((key) => {
    const f: Figure = FIGURES[key];
    const values = results.map((r) => f.get(r));
    return {
      name: f.name,
      key,
      unit: f.unit,
      values,
      changes: values.map((v, i) => (i === 0 ? undefined : changePct(values[0], v))),
      lowerIsBetter: f.higherBetter === undefined ? undefined : !f.higherBetter,
    };
  }).filter((row) => row.values.some((v) => v !== undefined));
}
