import { UsageError } from "../errors.js";
import { encode, mergeInto, newHistogram, stats, type Histogram } from "../metrics/histogram.js";
import type { FaultRecord } from "../schema/events.js";
import {
  CYCLE,
  ERROR_CLASSES,
  type CountedSample,
  type OpSummary,
  type SystemStall,
  type TimelineEntry,
  type TimelineOp,
} from "../schema/measures.js";
import type { ShardSpec } from "../schema/plan.js";
import type { MergedShard, ResultFile, Resources } from "../schema/result.js";
import { availability } from "./availability.js";
import { evaluateThresholds } from "./thresholds.js";

export interface ShardFile {
  file: string;
  result: ResultFile;
}

const MAX_SAMPLES = 20;

/** What may differ between the shards of one plan: their share of it, and where they wrote. */
const PER_SHARD = new Set(["conns", "rate", "workers", "pin", "outDir", "shard", "appName", "progress"]);

/** The saved plan's fields that every shard of one plan shares, as text. */
function planKey(r: ResultFile): Map<string, string> {
  const fields = Object.entries(r.plan).filter(([k]) => !PER_SHARD.has(k));
  return new Map(fields.map(([k, v]) => [k, JSON.stringify(v)]));
}

/** Shards of one plan: the same plan but for each one's share, a common --start-at, N; each index once. */
function check(shards: ShardFile[]): ShardSpec {
  const first = shards[0];
  const spec = (s: ShardFile): ShardSpec => {
    if (!s.result.plan.shard)
      throw new UsageError(`${s.file} is not a shard's result (it was not run with --shard I/N)`);
    return s.result.plan.shard;
  };
  const want = spec(first);
  const same: Array<[string, (r: ResultFile) => unknown]> = [
    ["workload", (r) => r.workload],
    ["knobs", (r) => JSON.stringify(Object.entries(r.plan.knobs).sort())],
    ["label", (r) => r.label],
    ["interval", (r) => r.plan.intervalMs],
    ["--start-at", (r) => r.plan.startAt ?? "none"],
    ["shard count N", (r) => r.plan.shard?.count],
    ["--conns", (r) => r.plan.shard?.conns],
    ["--rate", (r) => r.plan.shard?.rate ?? "none"],
  ];
  const firstKey = planKey(first.result);
  const seen = new Map<number, string>();
  for (const s of shards) {
    const { index } = spec(s);
    for (const [what, get] of same) {
      if (get(s.result) !== get(first.result))
        throw new UsageError(
          `${s.file} and ${first.file} are not shards of one plan: their ${what} differ (${String(get(s.result))} vs ${String(get(first.result))})`,
        );
    }
    if (s.result.plan.startAt === undefined)
      throw new UsageError(
        `${s.file} was run without --start-at: shards need one common start to be merged by wall clock`,
      );
    const key = planKey(s.result);
    for (const k of new Set([...key.keys(), ...firstKey.keys()]))
      if (key.get(k) !== firstKey.get(k))
        throw new UsageError(
          `${s.file} and ${first.file} are not shards of one plan: their ${k} differ (${key.get(k) ?? "none"} vs ${firstKey.get(k) ?? "none"})`,
        );
    const twice = seen.get(index);
    if (twice !== undefined) throw new UsageError(`shard ${index} is given twice: ${twice} and ${s.file}`);
    seen.set(index, s.file);
  }
  return want;
}

/** Adds one op's interval across shards: counts summed, histograms added exactly, percentiles read again. */
function mergeOp(parts: TimelineOp[]): TimelineOp {
  const h = mergeInto(
    newHistogram(),
    parts.map((p) => p.histogram),
  );
  const st = stats(h);
  const ambiguous = parts.reduce((n, p) => n + (p.ambiguous ?? 0), 0);
  const out: TimelineOp = {
    count: parts.reduce((n, p) => n + p.count, 0),
    errors: parts.reduce((n, p) => n + p.errors, 0),
    ...(ambiguous ? { ambiguous } : {}),
    skipped: parts.reduce((n, p) => n + p.skipped, 0),
    retries: parts.reduce((n, p) => n + p.retries, 0),
    p50: st.p50,
    p95: st.p95,
    p99: st.p99,
    max: st.max,
    ...(st.count > 0 ? { histogram: encode(h) } : {}),
  };
  h.destroy();
  return out;
}

/**
 * The shards' timelines, interval by interval. With a common --start-at every shard's interval k covers the
 * same wall-clock span (the runner keeps a late shard on the plan's grid), so aligning by k is aligning by
 * wall clock.
 */
function mergeTimelines(results: ResultFile[]): TimelineEntry[] {
  const bySeq = new Map<number, TimelineEntry[]>();
  // The least late shard first: its t and dt are the grid's (a late one's first entries came in a rush).
  const byLateness = [...results].sort((a, b) => (a.host?.lateMs ?? 0) - (b.host?.lateMs ?? 0));
  for (const r of byLateness) for (const e of r.timeline) bySeq.set(e.seq, [...(bySeq.get(e.seq) ?? []), e]);
  return [...bySeq.entries()]
    .sort(([a], [b]) => a - b)
    .map(([seq, entries]) => {
      const names = new Set(entries.flatMap((e) => Object.keys(e.ops)));
      const ops: Record<string, TimelineOp> = {};
      for (const name of names)
        ops[name] = mergeOp(entries.flatMap((e) => (e.ops[name] ? [e.ops[name]] : [])));
      const faults = entries.flatMap((e) => e.faults ?? []);
      const observed = entries.find((e) => e.observed)?.observed;
      const window: Record<string, number> = {};
      for (const e of entries)
        for (const [name, n] of Object.entries(e.window ?? {})) window[name] = (window[name] ?? 0) + n;
      const phase = entries.find((e) => e.phase)?.phase;
      return {
        seq,
        t: entries[0].t,
        dt: entries[0].dt,
        ramp: entries.every((e) => e.ramp),
        ...(phase ? { phase } : {}),
        ops,
        ...(Object.keys(window).length ? { window } : {}),
        reconnects: entries.reduce((n, e) => n + e.reconnects, 0),
        ...(observed ? { observed } : {}),
        ...(faults.length ? { faults } : {}),
      };
    });
}

/** The shards' common window (one --start-at, one fixed warm-up): what each drained, cut off and measured adds up. */
function mergeWindows(results: ResultFile[]): Pick<ResultFile, "window" | "generator"> {
  const windows = results.flatMap((r) => (r.window ? [r.window] : []));
  const verdicts = results.flatMap((r) => (r.generator ? [{ label: r.label, g: r.generator }] : []));
  const out: Pick<ResultFile, "window" | "generator"> = {};
  if (windows.length)
    out.window = {
      ...windows[0],
      measuredSec: Math.min(...windows.map((w) => w.measuredSec)),
      drained: windows.reduce((n, w) => n + w.drained, 0),
      cutOff: windows.reduce((n, w) => n + w.cutOff, 0),
      drainSec: Math.max(...windows.map((w) => w.drainSec)),
    };
  if (verdicts.length)
    out.generator = {
      starved: verdicts.some((v) => v.g.starved),
      reasons: verdicts.flatMap((v) => v.g.reasons.map((why) => `${v.label}: ${why}`)),
      hostSharePct: Math.max(...verdicts.map((v) => v.g.hostSharePct)),
      busiestWorkerPct: Math.max(...verdicts.map((v) => v.g.busiestWorkerPct)),
      frozenSec: Math.max(...verdicts.map((v) => v.g.frozenSec)),
      delayedSec: Math.max(...verdicts.map((v) => v.g.delayedSec ?? 0)),
      lateIntervals: Math.max(...verdicts.map((v) => v.g.lateIntervals)),
    };
  return out;
}

function addStats(into: Histogram | undefined, encoded: string | undefined): Histogram | undefined {
  if (!encoded) return into;
  return mergeInto(into ?? newHistogram(), [encoded]);
}

/** Each op over the whole window: histograms added exactly (the service time's too), counts summed. */
function mergeSummaries(results: ResultFile[], seconds: number): Record<string, OpSummary> {
  const names = new Set(results.flatMap((r) => Object.keys(r.summary)));
  const out: Record<string, OpSummary> = {};
  for (const name of names) {
    const parts = results.flatMap((r) => (r.summary[name] ? [r.summary[name]] : []));
    const h = mergeInto(
      newHistogram(),
      parts.map((p) => p.histogram),
    );
    let service: Histogram | undefined;
    for (const p of parts) service = addStats(service, p.service?.histogram);
    const count = parts.reduce((n, p) => n + p.count, 0);
    const sqlstates: Record<string, number> = {};
    for (const p of parts)
      for (const [k, v] of Object.entries(p.sqlstates)) sqlstates[k] = (sqlstates[k] ?? 0) + v;
    const errors = { connection: 0, serialization: 0, timeout: 0, other: 0 };
    for (const p of parts) for (const c of ERROR_CLASSES) errors[c] += p.errors[c] ?? 0;
    out[name] = {
      ...stats(h),
      count,
      rate: seconds > 0 ? count / seconds : 0,
      errors,
      sqlstates,
      skipped: parts.reduce((n, p) => n + p.skipped, 0),
      retries: parts.reduce((n, p) => n + p.retries, 0),
      ambiguous: parts.reduce((n, p) => n + p.ambiguous, 0),
      histogram: encode(h),
      ...(service ? { service: { ...stats(service), histogram: encode(service) } } : {}),
    };
    h.destroy();
    service?.destroy();
  }
  return out;
}

function mergeSamples(results: ResultFile[]): CountedSample[] {
  const byKey = new Map<string, CountedSample>();
  for (const s of results.flatMap((r) => r.errorSamples)) {
    const key = `${s.op}|${s.cls}|${s.sqlstate ?? ""}|${s.message}`;
    const seen = byKey.get(key);
    if (seen) seen.count += s.count;
    else if (byKey.size < MAX_SAMPLES) byKey.set(key, { ...s });
  }
  return [...byKey.values()];
}

/** Fleet-wide stalls: when no cycle succeeded on any host, i.e. where every shard's stalls overlap. */
export function intersectStalls(perShard: SystemStall[][]): SystemStall[] {
  const end = (s: SystemStall) => s.to ?? Infinity;
  let acc = perShard[0] ?? [];
  for (const other of perShard.slice(1)) {
    const next: SystemStall[] = [];
    for (const a of acc)
      for (const b of other) {
        const from = Math.max(a.from, b.from);
        const to = Math.min(end(a), end(b));
        if (to > from)
          next.push({
            from,
            to: to === Infinity ? null : to,
            seconds: to === Infinity ? null : +(to - from).toFixed(3),
          });
      }
    acc = next;
  }
  return acc;
}

/**
 * The server's side as one shard sampled it, its per-cycle figures spread over the whole fleet's cycles: the
 * server paid for every shard's cycles, not that one's.
 */
function fleetServerSide(results: ResultFile[], cycles: number): ResultFile["serverSide"] {
  const r = results.find((x) => x.serverSide);
  if (!r?.serverSide) return undefined;
  const own = r.summary[CYCLE]?.count ?? 0;
  const per = (v: number | null) =>
    v === null || !(own > 0) || !(cycles > 0) ? null : +((v * own) / cycles).toFixed(4);
  const s = r.serverSide.summary;
  return {
    ...r.serverSide,
    summary: { ...s, cpuPerTxnMs: per(s.cpuPerTxnMs), walBytesPerTxn: per(s.walBytesPerTxn) },
  };
}

function sumResources(all: Resources[]): Resources {
  const sum = (f: (r: Resources["runner"]) => number) => +all.reduce((n, r) => n + f(r.runner), 0).toFixed(3);
  return {
    runner: {
      cpuUserSec: sum((p) => p.cpuUserSec),
      cpuSystemSec: sum((p) => p.cpuSystemSec),
      maxRssMb: sum((p) => p.maxRssMb),
    },
    workers: all.flatMap((r) => r.workers).map((w, index) => ({ ...w, index })),
    cpuSec: +all.reduce((n, r) => n + r.cpuSec, 0).toFixed(3),
    peakRssMb: +all.reduce((n, r) => n + r.peakRssMb, 0).toFixed(1),
  };
}

/**
 * The shards of one plan as one ordinary result: what a single host running the whole plan would have
 * written, plus `merge` (per host: resources, faults, clock, lateness). Histograms add exactly. A missing or
 * partial shard makes the result partial, and `merge.missing` names the missing ones.
 */
export function mergeShards(shards: ShardFile[]): ResultFile {
  if (shards.length === 0) throw new UsageError("merge: give the shards' result files");
  const spec = check(shards);
  const ordered = [...shards].sort((a, b) => a.result.plan.shard!.index - b.result.plan.shard!.index);
  const results = ordered.map((s) => s.result);
  const first = results[0];
  const present = new Set(results.map((r) => r.plan.shard!.index));
  const missing = Array.from({ length: spec.count }, (_, i) => i).filter((i) => !present.has(i));
  const elapsedSec = Math.max(...results.map((r) => r.elapsedSec));
  const summary = mergeSummaries(results, elapsedSec);
  const faults: FaultRecord[] = results.flatMap((r) => r.faults);
  const outages = results.flatMap((r) => r.outages);
  const stalls = intersectStalls(results.map((r) => r.stalls ?? []));
  const windows = mergeWindows(results);
  const thresholds = evaluateThresholds(first.plan.thresholds, { summary, generator: windows.generator });
  const partial = missing.length > 0 || results.some((r) => r.partial);
  const offsets = results.flatMap((r) => (r.host?.clock ? [r.host.clock.offsetMs] : []));
  const perShard: MergedShard[] = ordered.map(({ file, result: r }) => ({
    index: r.plan.shard!.index,
    file,
    host: r.host?.name ?? "unknown",
    partial: r.partial,
    elapsedSec: r.elapsedSec,
    lateMs: r.host?.lateMs ?? 0,
    clock: r.host?.clock ?? null,
    exitCode: r.exitCode,
    resources: r.resources,
    faults: r.faults,
  }));
  const { shard: _shard, ...plan } = first.plan;
  return {
    ...first,
    plan: {
      ...plan,
      conns: spec.conns,
      ...(spec.rate !== undefined ? { rate: spec.rate } : {}),
      workers: results.reduce((n, r) => n + r.plan.workers, 0),
    },
    startedAt: results.map((r) => r.startedAt).sort()[0],
    endedAt: results
      .map((r) => r.endedAt)
      .sort()
      .reverse()[0],
    elapsedSec,
    ...windows,
    partial,
    stopReason: results.find((r) => r.partial)?.stopReason ?? first.stopReason,
    exitCode: partial ? 1 : thresholds.some((t) => !t.ok) ? 3 : 0,
    clients: {
      planned: spec.conns,
      connected: results.reduce((n, r) => n + r.clients.connected, 0),
      failedToConnect: results.reduce((n, r) => n + r.clients.failedToConnect, 0),
    },
    summary,
    counters: {
      reconnects: results.reduce((n, r) => n + r.counters.reconnects, 0),
      missed: results.reduce((n, r) => n + r.counters.missed, 0),
      abandoned: results.reduce((n, r) => n + r.counters.abandoned, 0),
    },
    errorSamples: mergeSamples(results),
    // One database behind every shard: each sampled the same server, so one shard's view stands for all.
    observed: results.find((r) => r.observed)?.observed,
    serverSide: fleetServerSide(results, summary[CYCLE]?.count ?? 0),
    faults,
    availability: availability(faults, outages, stalls),
    outages,
    stalls,
    thresholds,
    timeline: mergeTimelines(results),
    resources: sumResources(results.map((r) => r.resources)),
    host: undefined,
    merge: {
      count: spec.count,
      shards: perShard,
      missing,
      clockSpreadMs: offsets.length >= 2 ? +(Math.max(...offsets) - Math.min(...offsets)).toFixed(3) : null,
    },
  };
}
