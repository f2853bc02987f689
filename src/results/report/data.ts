import { basename } from "node:path";
import { intervalErrors } from "../../metrics/aggregate.js";
import { formatDuration } from "../../options/units.js";
import { barCharts, chartIntervals, cycleOf, spectrumChart, timeChart } from "./charts.js";
import {
  errorTotal,
  finite,
  observedOf,
  unionInOrder,
  type ChartSection,
  type FaultRow,
  type NamedResult,
  type ReportData,
  type RunInfo,
  type SummaryRow,
} from "./model.js";
import { warmupText, windowNotes } from "../window-notes.js";
import { idleText, iterationsText, opOrder } from "../tables.js";
import { CONNECT, CYCLE } from "../../schema/measures.js";
import { serverSideReport } from "./server-side.js";

/** Each run's faults with their availability figures (result files from before faults existed have none). */
function faultRows(results: NamedResult[]): FaultRow[] {
  return results.flatMap(({ result }, run) =>
    (result.faults ?? []).map((f) => {
      const a = result.availability?.find(
        (x) => x.fault === f.spec && f.startedAt !== null && x.at === f.startedAt,
      );
      return {
        run,
        fault: f.spec,
        at: f.startedAt ?? f.at,
        ok: f.ok,
        clientsAffected: a?.clientsAffected ?? 0,
        errors: a?.errors ?? 0,
        ambiguousCommits: a?.ambiguousCommits ?? 0,
        firstErrorAfterSec: a?.firstErrorAfterSec ?? null,
        outage: a?.outage
          ? `${a.outage.from.toFixed(2)} → ${a.outage.to === null ? "end" : a.outage.to.toFixed(2)}`
          : "-",
        medianClientSec: a?.medianClientSec,
        worstClientSec: a?.worstClientSec ?? null,
        recoveredAfterSec: a?.recoveredAfterSec ?? null,
        stall: a?.stall ? `${a.stall.seconds === null ? "until the end" : a.stall.seconds.toFixed(2)}` : "-",
      };
    }),
  );
}
/** Series names: the label, disambiguated by the file name (then the path, then a number) when shared. */
function seriesNames(results: NamedResult[]): string[] {
  const count = (xs: string[], x: string) => xs.filter((y) => y === x).length;
  const labels = results.map((r) => String(r.result.label ?? "?"));
  const byFile = labels.map((l, i) => (count(labels, l) > 1 ? `${l} (${basename(results[i].path)})` : l));
  const byPath = byFile.map((n, i) => (count(byFile, n) > 1 ? `${labels[i]} (${results[i].path})` : n));
  return byPath.map((n, i) => (count(byPath, n) > 1 ? `${n} #${i + 1}` : n));
}

function runInfo(r: NamedResult, name: string): RunInfo {
  const res = r.result;
  const p = res.plan;
  const stop = [
    p.durationMs !== undefined ? `duration ${formatDuration(p.durationMs)}` : "",
    p.iterations !== undefined ? iterationsText(p.iterations, p.iterationsSplit) : "",
  ]
    .filter(Boolean)
    .join(", ");
  return {
    name,
    label: String(res.label),
    file: basename(r.path),
    workload: String(res.workload ?? p.workload),
    conns: finite(p.conns),
    workers: finite(p.workers),
    mode:
      `${p.txnPooling ? "txn-pooling" : "session"}, query-mode ${p.queryMode}` +
      (p.connectPerTxn ? ", connect-per-txn" : "") +
      (Array.isArray(p.pin) ? `, workers pinned to CPU ${p.pin.join(",")}` : ""),
    pacing:
      (p.rate !== undefined ? `open loop, ${p.rate}/s ${p.arrival}` : "closed loop") +
      (stop ? `; ${stop}` : "") +
      (p.rampMs ? `; ramp ${formatDuration(p.rampMs)}` : "") +
      (res.window || p.warmupMs ? `; warm-up ${warmupText(res)}` : ""),
    elapsedSec: finite(res.elapsedSec),
    server: String(res.server?.version ?? "")
      .split(" ")
      .slice(0, 2)
      .join(" "),
    result: `${res.partial ? "PARTIAL, " : ""}${res.stopReason ?? "?"}`,
    startedAt: String(res.startedAt ?? ""),
    clients:
      `${finite(res.clients?.connected)} of ${finite(res.clients?.planned)}` +
      (res.idle ? `; ${idleText(res.idle)}` : ""),
    cpuSec: finite(res.resources?.cpuSec),
  };
}

function summaryRows(results: NamedResult[]): SummaryRow[] {
  const ops = unionInOrder(results.map((r) => opOrder(r.result.summary)));
  const rows: SummaryRow[] = [];
  for (const op of ops) {
    results.forEach((r, run) => {
      const o = r.result.summary[op];
      if (!o) return;
      rows.push({
        run,
        op,
        count: finite(o.count),
        rate: op === CONNECT ? null : finite(o.rate),
        mean: finite(o.mean),
        p50: finite(o.p50),
        p90: finite(o.p90),
        p95: finite(o.p95),
        p99: finite(o.p99),
        max: finite(o.max),
        errors: errorTotal(o),
        retries: finite(o.retries),
        skipped: finite(o.skipped),
      });
    });
  }
  return rows;
}

/** Turns result files into everything the report page shows. */
export function buildReportData(results: NamedResult[], now = new Date()): ReportData {
  const names = seriesNames(results);
  const folded = results.map((r) =>
    chartIntervals(r.result.timeline ?? [], finite(r.result.plan.intervalMs) / 1000 || 1),
  );
  const timelines = folded.map((f) => f.entries);
  const notes: string[] = [];
  const withSlivers = names.filter((_, i) => folded[i].folded > 0);
  if (withSlivers.length > 0) {
    notes.push(
      `Time charts fold the short last snapshot of a run (the stop) into the interval before it ` +
        `(${withSlivers.join(", ")}); the table is unchanged.`,
    );
  }
  results.forEach((r, i) => {
    if (r.result.partial) notes.push(`${names[i]}: the run was cut short (${r.result.stopReason}).`);
    for (const note of windowNotes({ ...r.result, label: names[i] })) notes.push(`${note}.`);
  });

  const rampNote = timelines.some((tl) => tl.some((e) => e.ramp))
    ? "Shaded: intervals outside the measured window (ramp, warm-up, and the drain after its end; the table counts the cycles that started in the window)."
    : undefined;

  const throughput = timeChart(
    "chart-throughput",
    `throughput (${CYCLE} per second, per interval)`,
    "cycles/s",
    names,
    timelines,
    (e) => finite(cycleOf(e)?.count) / e.dt,
    rampNote,
  );
  const p50 = timeChart(
    "chart-p50",
    `${CYCLE} p50 per interval`,
    "ms",
    names,
    timelines,
    (e) => (cycleOf(e) && finite(cycleOf(e)!.count) > 0 ? finite(cycleOf(e)!.p50) : null),
    rampNote,
  );
  const p99 = timeChart(
    "chart-p99",
    `${CYCLE} p99 per interval`,
    "ms",
    names,
    timelines,
    (e) => (cycleOf(e) && finite(cycleOf(e)!.count) > 0 ? finite(cycleOf(e)!.p99) : null),
    rampNote,
  );
  const errorsOverTime = timeChart(
    "chart-errors",
    "errors per interval (all ops but the cycle)",
    "errors",
    names,
    timelines,
    (e) => intervalErrors(e.ops ?? {}),
  );
  const totalErrors = errorsOverTime.series.reduce(
    (n, s) => n + s.values.reduce<number>((m, v) => m + (v ?? 0), 0),
    0,
  );
  errorsOverTime.note = [totalErrors === 0 ? "No errors in any run." : "", rampNote ?? ""]
    .filter(Boolean)
    .join(" ");

  const sections: ChartSection[] = [
    { title: "Throughput", charts: [throughput] },
    { title: "Latency over time", charts: [p50, p99] },
    { title: "Latency by percentile", charts: [spectrumChart(results, names)] },
    { title: "Per op", charts: barCharts(results, names) },
    { title: "Errors over time", charts: [errorsOverTime] },
  ];

  const keys = [...new Set(timelines.flatMap((tl) => tl.flatMap((e) => Object.keys(observedOf(e) ?? {}))))];
  if (keys.length > 0) {
    sections.push({
      title: "Server side",
      charts: keys.map((key, k) => {
        const chart = timeChart(`chart-observed-${k}`, key, key, names, timelines, (e) => {
          const v = observedOf(e)?.[key];
          return typeof v === "number" && Number.isFinite(v) ? v : null;
        });
        // A series only some runs carry (PgBouncer's, say): lines for those runs only.
        chart.series = chart.series.filter((s) => s.values.some((v) => v !== null));
        return chart;
      }),
    });
  }

  return {
    generatedAt: now.toISOString(),
    runs: results.map((r, i) => runInfo(r, names[i])),
    rows: summaryRows(results),
    sections,
    faults: faultRows(results),
    serverSide: serverSideReport(results.map((r) => r.result)),
    notes,
  };
}
