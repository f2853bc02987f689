import { warmupText } from "./window-notes.js";
import Table from "cli-table3";
import { sumErrors } from "../metrics/aggregate.js";
import { formatDuration } from "../options/units.js";
import type { FaultAvailability, FaultRecord } from "../schema/events.js";
import { CONNECT, CYCLE, LAG, type OpSummary } from "../schema/measures.js";
import type { IterationsSplit } from "../schema/plan.js";
import type { IdleInfo, ResultFile } from "../schema/result.js";

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

/** Workload ops first in the order they appeared, then the cycle, then connection set-up. */
export function opOrder(summary: Record<string, OpSummary>): string[] {
  const synthetic = [CYCLE, LAG, CONNECT];
  const names = Object.keys(summary).filter((n) => !synthetic.includes(n));
  return [...names, ...synthetic.filter((n) => summary[n])];
}

/** The seed's summary table: elapsed | id | threads | tot_ops | tot_ops/s | mean | p50 … max, + errors. */
export function summaryTable(result: ResultFile): string {
  const table = new Table({
    head: ["elapsed", "id", "threads", "tot_ops", "tot_ops/s", "mean(ms)", "p50(ms)", "p90(ms)"].concat([
      "p95(ms)",
      "p99(ms)",
      "max(ms)",
      "errors",
      "retries",
      "skipped",
    ]),
    style: { head: [], border: [], compact: true },
    colAligns: ["right", "left", ...Array<"right">(12).fill("right")],
  });
  for (const name of opOrder(result.summary)) {
    const o = result.summary[name];
    table.push([
      result.elapsedSec.toFixed(1),
      name,
      result.plan.conns,
      o.count,
      name === CONNECT || name === LAG ? "" : o.rate.toFixed(1),
      fmt(o.mean),
      fmt(o.p50),
      fmt(o.p90),
      fmt(o.p95),
      fmt(o.p99),
      fmt(o.max),
      sumErrors(o.errors),
      o.retries,
      o.skipped,
    ]);
  }
  return table.toString();
}

/** The run's parameters, like dbworkload's block under its table. */
export function parameterTable(result: ResultFile): string {
  const p = result.plan;
  const rows: Array<[string, string]> = [
    ["workload", p.workload],
    ["label", p.label],
    ["uri", p.uri],
    ["server", result.server.version.split(" ").slice(0, 2).join(" ")],
    ["conns / workers", `${p.conns} / ${p.workers}${p.pin ? `, pinned to CPU ${p.pin.join(",")}` : ""}`],
    [
      "mode",
      `${p.txnPooling ? "txn-pooling" : "session"}, query-mode ${p.queryMode}${p.connectPerTxn ? ", connect-per-txn" : ""}${p.driver === "pg" ? ", driver pg" : ""}`,
    ],
    ["pacing", p.rate !== undefined ? `open loop, ${p.rate}/s ${p.arrival}` : "closed loop"],
    [
      "stop",
      [
        p.durationMs !== undefined ? `duration ${formatDuration(p.durationMs)}` : "",
        p.iterations !== undefined ? iterationsText(p.iterations, p.iterationsSplit) : "",
      ]
        .filter(Boolean)
        .join(", ") || "Ctrl-C",
    ],
    ["ramp / warm-up", `${formatDuration(p.rampMs)} / ${warmupText(result)}`],
    ...(result.window
      ? [
          [
            "window" as string,
            `${result.window.from} s → ${result.window.to} s after the start; drain ${result.window.drainSec} s (${result.window.drained} of its cycles ended in it, ${result.window.cutOff} cut off)`,
          ] as [string, string],
        ]
      : []),
    [
      "knobs",
      Object.entries(p.knobs)
        .map(([k, v]) => `${k}=${v}`)
        .join(" ") || "-",
    ],
    ["clients connected", `${result.clients.connected} of ${result.clients.planned}`],
    ["result", `${result.partial ? "PARTIAL " : ""}${result.stopReason}`],
    [
      "harness",
      `cpu ${result.resources.cpuSec.toFixed(1)}s, peak rss ${result.resources.peakRssMb.toFixed(0)} MB`,
    ],
  ];
  const table = new Table({ style: { head: [], border: [], compact: true } });
  for (const r of rows) table.push(r);
  return table.toString();
}

/** One line per fault: what it did to the clients. */
/** "500 idle connections (SELECT 1 every 50 s)": what --idle-conns held, in a few words. */
export function idleText(i: IdleInfo): string {
  return `${i.connected}${i.connected !== i.planned ? ` of ${i.planned}` : ""} idle connections (${i.everySec !== null ? `SELECT 1 every ${i.everySec} s` : "unused"})`;
}

/** "idle connections: 500 held beside the load (500 at its end), 20 SELECT 1, 0 errors". */
export function idleLine(i: IdleInfo): string {
  const failed = i.failedToConnect ? `, ${i.failedToConnect} could not connect` : "";
  return (
    `idle connections: ${i.connected} of ${i.planned} held beside the load (${i.heldAtEnd} at its end${failed}), ` +
    `${i.queries} SELECT 1 (${i.everySec !== null ? `every ${i.everySec} s each` : "none asked"}), ${i.errors} errors; none timed`
  );
}

export function availabilityLine(a: FaultAvailability): string {
  const s = (n: number | null) => (n === null ? "never" : `${n.toFixed(2)}s`);
  const span = (x: { from: number; to: number | null }) =>
    `${x.from.toFixed(2)}s → ${x.to === null ? "end" : `${x.to.toFixed(2)}s`}`;
  const stall = a.stall
    ? `nothing succeeded for ${a.stall.seconds === null ? "the rest of the run" : s(a.stall.seconds)} (${span(a.stall)})`
    : "no stall";
  const head = `fault '${a.fault}' at ${a.at.toFixed(1)}s: `;
  if (a.clientsAffected === 0) return `${head}no client saw an error; ${stall}`;
  return (
    `${head}first error after ${s(a.firstErrorAfterSec)}, ` +
    `${a.clientsAffected} clients, ${a.errors} errors, ${a.ambiguousCommits} ambiguous commits, ` +
    `outage ${a.outage ? span(a.outage) : "-"}, ` +
    `worst client ${s(a.worstClientSec)}` +
    (a.medianClientSec !== undefined ? ` (median ${s(a.medianClientSec)})` : "") +
    `, all back after ${s(a.recoveredAfterSec)}; ${stall}`
  );
}

/**
 * "VIP after 'at=2s kill node-a signal=KILL': node-b MASTER after 2.93s", from the VIP manager's own record
 * (keepalived's states; Pacemaker's lost, fenced, vip-start, haproxy-start…).
 */
export function vipLine(f: FaultRecord): string {
  const changes = (f.vip ?? []).map((e) => `${e.node} ${e.state} after ${(e.at - f.startedAt!).toFixed(2)}s`);
  return `VIP after '${f.spec}': ${changes.length ? changes.join(", ") : "no state change recorded"}`;
}

/** "N iterations/worker", and how its clients shared them when not the default. */
export function iterationsText(iterations: number, split: IterationsSplit | undefined): string {
  return `${iterations} iterations/worker${split === "even" ? " (an even share per client)" : ""}`;
}
