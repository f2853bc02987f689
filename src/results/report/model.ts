import { CONNECT, CYCLE, ERROR_CLASSES, type OpSummary, type TimelineEntry } from "../../schema/measures.js";
import type { ResultFile } from "../../schema/result.js";
import type { ServerSideReport } from "./server-side.js";

/**
 * The plain data of `dcpbench report`'s page: what it shows, computed here (no HTML, no presentation).
 * Latencies in ms, times in seconds since the run's start, rates per second. `run` fields index `runs`.
 */
export interface ReportData {
  generatedAt: string;
  runs: RunInfo[];
  /** One row per op × run, grouped by op (workload ops, then __cycle__, then __connect__). */
  rows: SummaryRow[];
  sections: ChartSection[];
  /** --fault runs: each fault and what it did to the clients. */
  faults: FaultRow[];
  /** What the database paid, side by side (runs with server-side figures). */
  serverSide?: ServerSideReport;
  /** Caveats about the data, one sentence each. */
  notes: string[];
}

export interface FaultRow {
  run: number;
  fault: string;
  at: number;
  ok: boolean;
  clientsAffected: number;
  errors: number;
  ambiguousCommits: number;
  firstErrorAfterSec: number | null;
  outage: string;
  /** The longest time nothing succeeded anywhere, in seconds ("-": none of 0.2 s or more). */
  stall: string;
  /** Absent for results written before it was recorded. */
  medianClientSec?: number | null;
  worstClientSec: number | null;
  recoveredAfterSec: number | null;
}

export interface RunInfo {
  /** The series name: the label, with the file name when two runs share a label. */
  name: string;
  label: string;
  file: string;
  workload: string;
  conns: number;
  workers: number;
  mode: string;
  pacing: string;
  elapsedSec: number;
  server: string;
  result: string;
  startedAt: string;
  clients: string;
  cpuSec: number;
}

export interface SummaryRow {
  run: number;
  op: string;
  count: number;
  /** Per second over the measured window; null for __connect__ (not part of the window). */
  rate: number | null;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  errors: number;
  retries: number;
  skipped: number;
}

export interface Series {
  run: number;
  name: string;
  /** One per x (line charts) or per group (bar charts); null where the run has no value. */
  values: Array<number | null>;
  dash?: boolean;
}

/** A stretch of one run's timeline to shade (its ramp). */
export interface Band {
  run: number;
  from: number;
  to: number;
}

export interface LineChart {
  type: "line";
  id: string;
  title: string;
  /** "seconds": time since the start; "percentile": log10(1 / (1 − p)), labelled as percentiles. */
  xKind: "seconds" | "percentile";
  yLabel: string;
  x: number[];
  series: Series[];
  bands: Band[];
  note?: string;
}

export interface BarChart {
  type: "bars";
  id: string;
  title: string;
  yLabel: string;
  groups: string[];
  series: Series[];
  note?: string;
}

export type Chart = LineChart | BarChart;

export interface ChartSection {
  title: string;
  charts: Chart[];
}

export interface NamedResult {
  path: string;
  result: ResultFile;
}

/** Numbers read defensively from a result file (a hand-edited or older file may lack some). */
export const finite = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
export const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);
export const errorTotal = (o: Partial<OpSummary>) =>
  ERROR_CLASSES.reduce((n, c) => n + finite(o.errors?.[c]), 0);

/** Workload ops in order of first appearance across runs, then __cycle__, then __connect__. */
export function unionInOrder(lists: string[][]): string[] {
  const seen = new Set<string>();
  for (const l of lists) for (const n of l) if (n !== CYCLE && n !== CONNECT) seen.add(n);
  for (const n of [CYCLE, CONNECT]) if (lists.some((l) => l.includes(n))) seen.add(n);
  return [...seen];
}

/** A timeline entry's server-side samples, if it has a well-formed set. */
export const observedOf = (e: TimelineEntry): Record<string, number> | undefined => {
  const o = (e as { observed?: Record<string, number> }).observed;
  return o && typeof o === "object" && !Array.isArray(o) ? o : undefined;
};
