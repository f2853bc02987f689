import Table from "cli-table3";
import { stringify } from "csv-stringify/sync";
import type { Comparison, Metric, MetricRow } from "./compare.js";
import type { ServerSideRow } from "./server-side.js";
import { COMPARE_SCHEMA, COMPARE_VERSION, type CompareFile } from "../../schema/compare.js";

export const FORMATS = ["table", "markdown", "json", "csv"] as const;
export type Format = (typeof FORMATS)[number];

function value(metric: Metric, v: number | undefined): string {
  if (v === undefined) return "-";
  if (metric === "errors" || metric === "retries") return String(v);
  if (metric === "throughput") return v.toFixed(1);
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** "-44.2% faster", "+30.1% more", or "-" when there is nothing to compare. */
export function change(row: MetricRow, pct: number | undefined): string {
  if (pct === undefined) return "-";
  if (pct === Infinity) return "+∞% (from 0)";
  if (Math.abs(pct) < 0.05) return "0%";
  const sign = pct > 0 ? "+" : "";
  const word =
    row.metric === "throughput"
      ? pct > 0
        ? "more"
        : "less"
      : row.lowerIsBetter && row.metric !== "errors" && row.metric !== "retries"
        ? pct < 0
          ? "faster"
          : "slower"
        : "";
  return `${sign}${pct.toFixed(1)}%${word ? ` ${word}` : ""}`;
}

function header(c: Comparison): string[] {
  const head = ["op", "metric", c.runs[0].label];
  for (const r of c.runs.slice(1)) head.push(r.label, `${r.label} vs ${c.runs[0].label}`);
  return head;
}

function cells(c: Comparison, row: MetricRow): string[] {
  const out = [row.op, row.metric, value(row.metric, row.values[0])];
  for (let i = 1; i < c.runs.length; i++)
    out.push(value(row.metric, row.values[i]), change(row, row.changes[i]));
  return out;
}

function runLines(c: Comparison): string[] {
  return c.runs.map(
    (r) =>
      `${r.label}: ${r.workload}, ${r.mode}, ${r.conns} conns / ${r.workers} workers, query mode ${r.queryMode}, ` +
      `${r.pacing} loop${r.idle ? `, ${r.idle}` : ""}, ${r.elapsedSec.toFixed(1)} s${r.partial ? " (PARTIAL)" : ""} — ${r.file}`,
  );
}

/** "server sessions (max): direct 1024 → pooled 64" */
function serverLines(c: Comparison): string[] {
  return c.server.map((row) => {
    const vals = row.values.map((v, i) => {
      const shown =
        v === undefined
          ? "-"
          : `${+v.toFixed(v < 10 ? 2 : 0)}${row.unit === "%" ? "%" : row.unit ? ` ${row.unit}` : ""}`;
      return `${c.runs[i].label} ${shown}`;
    });
    return `${row.name}: ${vals.join(" → ")}`;
  });
}

function serverSideValue(row: ServerSideRow, v: number | undefined): string {
  if (v === undefined) return "-";
  const n =
    v === 0 ? "0" : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 0.1 ? v.toFixed(2) : v.toFixed(4);
  return row.unit === "%" ? `${n}%` : row.unit === "/s" ? `${n}/s` : row.unit ? `${n} ${row.unit}` : n;
}

function serverSideChange(row: ServerSideRow, pct: number | undefined): string {
  if (pct === undefined) return "-";
  if (pct === Infinity) return "+∞% (from 0)";
  if (Math.abs(pct) < 0.05) return "0%";
  const shown = `${pct > 0 ? "+" : ""}${pct.toFixed(1)}%`;
  if (row.lowerIsBetter === undefined) return shown;
  return `${shown} ${(row.lowerIsBetter ? pct < 0 : pct > 0) ? "better" : "worse"}`;
}

/** The "server side" block: what the database and the poolers paid, one row per figure. */
function serverSideCells(c: Comparison): { head: string[]; rows: string[][] } {
  const head = ["server side", c.runs[0].label];
  for (const r of c.runs.slice(1)) head.push(r.label, `${r.label} vs ${c.runs[0].label}`);
  const rows = c.serverSide.map((row) => {
    const out = [row.name, serverSideValue(row, row.values[0])];
    for (let i = 1; i < c.runs.length; i++)
      out.push(serverSideValue(row, row.values[i]), serverSideChange(row, row.changes[i]));
    return out;
  });
  return { head, rows };
}

const orNull = (v: number | undefined): number | null => (v === undefined ? null : v);
/** A change JSON can hold: none for the first run, a missing value or a change from 0 (its values say which). */
const changeOrNull = (p: number | undefined): number | null =>
  p === undefined || !Number.isFinite(p) ? null : p;

/** `compare --format json`: the comparison as schemas/compare.schema.json describes it. */
export function compareFile(c: Comparison, gates: string[], failures: CompareFile["failures"]): CompareFile {
  return {
    schema: COMPARE_SCHEMA,
    version: COMPARE_VERSION,
    runs: c.runs,
    rows: c.rows.map((r) => ({
      op: r.op,
      metric: r.metric,
      values: r.values.map(orNull),
      changes: r.changes.map(changeOrNull),
      lowerIsBetter: r.lowerIsBetter,
    })),
    server: c.server.map((r) => ({ name: r.name, values: r.values.map(orNull), unit: r.unit })),
    serverSide: c.serverSide.map((r) => ({
      name: r.name,
      key: r.key,
      unit: r.unit,
      values: r.values.map(orNull),
      changes: r.changes.map(changeOrNull),
      lowerIsBetter: r.lowerIsBetter ?? null,
    })),
    ...(c.opWaits.length ? { opWaits: c.opWaits } : {}),
    warnings: c.warnings,
    gates,
    failures,
  };
}

const OP_WAITS_TITLE =
  "where each op's sessions were (--wait-events; session-s: the op's sampled session time, then % of it):";

/** The wait table's cells: op, what, one value per run. */
function opWaitCells(c: Comparison): { head: string[]; rows: string[][] } {
  const head = ["op", "what", ...c.runs.map((r) => r.label)];
  const rows = c.opWaits.map((r) => [
    r.op,
    r.what,
    ...r.values.map((v) => (v === null ? "-" : r.what === "session-s" ? v.toFixed(1) : `${v.toFixed(0)}%`)),
  ]);
  return { head, rows };
}

/** A markdown table: text columns left, the rest right. */
function markdownRows({ head, rows }: { head: string[]; rows: string[][] }, textColumns = 1): string[] {
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i < textColumns ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

function markdownServerSide(c: Comparison): string[] {
  if (!c.serverSide.length) return [];
  return ["", ...markdownRows(serverSideCells(c))];
}

export function formatComparison(c: Comparison, format: Format): string {
  switch (format) {
    case "json":
      return JSON.stringify(compareFile(c, [], []), null, 2);
    case "csv": {
      const head = [
        "op",
        "metric",
        ...c.runs.map((r) => r.label),
        ...c.runs.slice(1).map((r) => `change_pct_${r.label}`),
      ];
      const rows = c.rows.map((row) => [
        row.op,
        row.metric,
        ...row.values.map((v) => (v === undefined ? "" : +v.toFixed(3))),
        ...row.changes.slice(1).map((p) => (p === undefined ? "" : p === Infinity ? "inf" : +p.toFixed(2))),
      ]);
      const server = c.server.map((row) => [
        "server",
        row.name,
        ...row.values.map((v) => (v === undefined ? "" : +v.toFixed(3))),
        ...row.values.slice(1).map(() => ""),
      ]);
      const serverSide = c.serverSide.map((row) => [
        "server side",
        row.key,
        ...row.values.map((v) => (v === undefined ? "" : +v.toFixed(4))),
        ...row.changes.slice(1).map((p) => (p === undefined ? "" : p === Infinity ? "inf" : +p.toFixed(2))),
      ]);
      const waits = c.opWaits.map((row) => [
        `op waits ${row.op}`,
        row.what,
        ...row.values.map((v) => (v === null ? "" : v)),
        ...row.values.slice(1).map(() => ""),
      ]);
      return stringify([head, ...rows, ...server, ...serverSide, ...waits]).trimEnd();
    }
    case "markdown": {
      const head = header(c);
      const lines = [
        ...runLines(c).map((l) => `- ${l}`),
        "",
        `| ${head.join(" | ")} |`,
        `|${head.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`,
        ...c.rows.map((row) => `| ${cells(c, row).join(" | ")} |`),
        ...(c.server.length ? ["", ...serverLines(c).map((l) => `- ${l}`)] : []),
        ...markdownServerSide(c),
        ...(c.opWaits.length ? ["", OP_WAITS_TITLE, "", ...markdownRows(opWaitCells(c), 2)] : []),
      ];
      return lines.join("\n");
    }
    case "table": {
      const table = new Table({ head: header(c), style: { head: [], border: [], compact: true } });
      let lastOp = "";
      for (const row of c.rows) {
        const line = cells(c, row);
        if (row.op === lastOp) line[0] = "";
        else if (lastOp) table.push(header(c).map(() => ""));
        lastOp = row.op;
        table.push(line);
      }
      const lines = [...runLines(c), table.toString(), ...serverLines(c)];
      if (c.serverSide.length) {
        const { head, rows } = serverSideCells(c);
        const side = new Table({ head, style: { head: [], border: [], compact: true } });
        side.push(...rows);
        lines.push(side.toString());
      }
      if (c.opWaits.length) {
        const { head, rows } = opWaitCells(c);
        const waits = new Table({ head, style: { head: [], border: [], compact: true } });
        waits.push(...rows);
        lines.push(OP_WAITS_TITLE, waits.toString());
      }
      return lines.join("\n");
    }
  }
}
