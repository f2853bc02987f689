import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { VERSION } from "../../version.js";
import type { Chart, ReportData, SummaryRow } from "./model.js";
import { STYLE } from "./page-style.js";
import { escapeHtml } from "./escape.js";
import { serverSideHtml } from "./server-side.js";

/** Run colours (Tableau 10): distinct, and readable for most colour-vision deficiencies. */
export const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#e15759",
  "#b07aa1",
  "#76b7b2",
  "#edc948",
  "#9c755f",
  "#ff9da7",
  "#bab0ac",
];

const color = (run: number) => PALETTE[run % PALETTE.length];

/**
 * JSON that can sit inside <script type="application/json">: no "<" (so no "</script" or "<!--"),
 * and no U+2028/U+2029. The page reads it back with JSON.parse(textContent).
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** A library's code or stylesheet inlined into a <script> or <style> element, unable to close it early. */
function inlineSafe(code: string, element: "script" | "style"): string {
  return code.replace(new RegExp(`</(${element})`, "gi"), "<\\/$1");
}

let pageScript: string | undefined;

/** page.ts as compiled beside this file, as a classic script: its module marker and source map line dropped. */
function pageCode(): string {
  pageScript ??= readFileSync(new URL("./page.js", import.meta.url), "utf8")
    .replace(/^export \{\};$/m, "")
    .replace(/^\/\/# sourceMappingURL=.*$/m, "");
  return `(function () {\n"use strict";\n${pageScript}\n})();`;
}

let uplotAssets: { js: string; css: string; version: string } | undefined;

/** uPlot's browser build and stylesheet, from node_modules, to inline (the page loads nothing). */
function uplot(): { js: string; css: string; version: string } {
  if (uplotAssets) return uplotAssets;
  const require = createRequire(import.meta.url);
  try {
    const js = readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8");
    const css = readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8");
    const version = /\(v([\d.]+)\)/.exec(js.slice(0, 200))?.[1] ?? "";
    return (uplotAssets = { js, css, version });
  } catch (err) {
    throw new Error(`cannot read uPlot from node_modules (run npm ci): ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Like the terminal table: 3 significant-ish digits. */
function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

const swatch = (run: number) => `<span class="swatch" style="background:${color(run)}"></span>`;

function faultsTable(data: ReportData): string {
  const sec = (n: number | null) => (n === null ? "never" : n.toFixed(2));
  const head = ["run", "fault", "at (s)", "done", "clients hit", "errors", "ambiguous commits"].concat([
    "first error after (s)",
    "outage (s since start)",
    "median client (s)",
    "worst client (s)",
    "all back after (s)",
    "nothing succeeded for (s)",
  ]);
  const rows = data.faults.map((f) => [
    `${swatch(f.run)}${escapeHtml(data.runs[f.run].name)}`,
    escapeHtml(f.fault),
    f.at.toFixed(2),
    f.ok ? "yes" : "no",
    String(f.clientsAffected),
    String(f.errors),
    String(f.ambiguousCommits),
    f.clientsAffected ? sec(f.firstErrorAfterSec) : "-",
    escapeHtml(f.outage),
    f.clientsAffected && f.medianClientSec !== undefined ? sec(f.medianClientSec) : "-",
    f.clientsAffected ? sec(f.worstClientSec) : "-",
    f.clientsAffected ? sec(f.recoveredAfterSec) : "-",
    escapeHtml(f.stall),
  ]);
  const classes = [
    "name",
    "words",
    "num",
    "",
    "num",
    "num",
    "num",
    "num",
    "words",
    "num",
    "num",
    "num",
    "num",
  ];
  return table("faults", head, rows, classes);
}

function runsTable(data: ReportData): string {
  const head = ["run", "workload", "conns", "workers", "mode", "pacing", "window (s)"].concat([
    "clients",
    "result",
    "server",
    "started (UTC)",
    "harness cpu (s)",
  ]);
  const rows = data.runs.map((r, i) => [
    `${swatch(i)}${escapeHtml(r.name)}<div class="file">${escapeHtml(r.file)}</div>`,
    escapeHtml(r.workload),
    String(r.conns),
    String(r.workers),
    escapeHtml(r.mode),
    escapeHtml(r.pacing),
    r.elapsedSec.toFixed(1),
    escapeHtml(r.clients),
    escapeHtml(r.result),
    escapeHtml(r.server),
    escapeHtml(r.startedAt.replace("T", " ").replace(/(\.\d+)?Z$/, "")),
    r.cpuSec.toFixed(1),
  ]);
  const classes = ["name", "", "num", "num", "words", "words", "num", "", "", "", "words", "num"];
  return table("runs", head, rows, classes);
}

function summaryTable(data: ReportData): string {
  const latency = ["mean", "p50", "p90", "p95", "p99", "max"].map((h) => `${h}(ms)`);
  const head = ["run", "op", "count", "ops/s", ...latency].concat(["errors", "retries", "skipped"]);
  let lastOp: string | undefined;
  const groups: string[] = [];
  const rows = data.rows.map((r: SummaryRow) => {
    groups.push(r.op !== lastOp && lastOp !== undefined ? "group" : "");
    lastOp = r.op;
    return [
      `${swatch(r.run)}${escapeHtml(data.runs[r.run].name)}`,
      escapeHtml(r.op),
      String(r.count),
      r.rate === null ? "" : r.rate.toFixed(1),
      fmt(r.mean),
      fmt(r.p50),
      fmt(r.p90),
      fmt(r.p95),
      fmt(r.p99),
      fmt(r.max),
      String(r.errors),
      String(r.retries),
      String(r.skipped),
    ];
  });
  return table("summary", head, rows, ["name", "", ...Array<string>(11).fill("num")], groups);
}

/** A table; `columnClasses[i]` styles column i ("num": right-aligned). */
function table(
  id: string,
  head: string[],
  rows: string[][],
  columnClasses: string[],
  rowClasses: string[] = [],
): string {
  const cls = (c: string | undefined) => (c ? ` class="${c}"` : "");
  const th = head.map((h, i) => `<th${cls(columnClasses[i])}>${escapeHtml(h)}</th>`).join("");
  const body = rows
    .map((cells, r) => {
      const td = cells.map((c, i) => `<td${cls(columnClasses[i])}>${c}</td>`).join("");
      return `<tr${cls(rowClasses[r])}>${td}</tr>`;
    })
    .join("\n");
  return `<table id="${id}"><thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}

function figure(chart: Chart): string {
  const note = chart.note ? `<p class="note">${escapeHtml(chart.note)}</p>` : "";
  return (
    `<figure class="chart" id="${escapeHtml(chart.id)}"><figcaption>${escapeHtml(chart.title)}</figcaption>` +
    `<div class="plot"></div>${note}</figure>`
  );
}

/** The whole report: one HTML file with its data, its code and uPlot inlined; it loads nothing. */
export function renderReportHtml(data: ReportData): string {
  const lib = uplot();
  const title = `dcpbench report: ${data.runs.map((r) => r.name).join(" vs ")}`;
  const sections = data.sections
    .filter((s) => s.charts.length > 0)
    .map((s) => {
      const small = s.charts.length > 4 ? " small" : "";
      return `<h2>${escapeHtml(s.title)}</h2>\n<div class="grid${small}">${s.charts.map(figure).join("\n")}</div>`;
    })
    .join("\n");
  const notes = data.notes.length
    ? `<ul class="notes">${data.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul>`
    : "";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${inlineSafe(lib.css, "style")}</style>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
<p class="meta">generated ${escapeHtml(data.generatedAt)} by dcpbench ${escapeHtml(VERSION)}; latencies in ms; rates and the table cover each run's measured window (ramp excluded)</p>
${notes}
<h2>Runs</h2>
<div class="scroll">${runsTable(data)}</div>
<h2>Summary</h2>
<div class="scroll">${summaryTable(data)}</div>
${data.faults.length ? `<h2>Faults and availability</h2>\n<div class="scroll">${faultsTable(data)}</div>` : ""}
${
  data.serverSide?.rows.length
    ? serverSideHtml(
        data.serverSide,
        data.runs.map((r) => r.name),
        color,
      )
    : ""
}
${sections}
<p class="meta">Charts drawn with uPlot ${escapeHtml(lib.version)} (MIT licence), inlined in this file.</p>
</main>
<script type="application/json" id="report-data">${jsonForScript({ ...data, palette: PALETTE })}</script>
<script>${inlineSafe(lib.js, "script")}</script>
<script>${inlineSafe(pageCode(), "script")}</script>
</body>
</html>
`;
}
