import { UsageError } from "../errors.js";
import { mergeOpSummaries, mergeTimelineOps, SampleBook } from "../metrics/aggregate.js";
import {
  CYCLE,
  type CountedSample,
  type OpSummary,
  type SystemStall,
  type TimelineEntry,
  type TimelineOp,
} from "../schema/measures.js";
import type { ShardSpec } from "../schema/plan.js";
import type { ResultFile, Resources } from "../schema/result.js";
import { availability } from "./availability.js";
import { evaluateThresholds } from "./compare/thresholds.js";

export interface ShardFile {
  file: string;
  result: ResultFile;
}

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
        ops[name] = mergeTimelineOps(entries.flatMap((e) => (e.ops[name] ? [e.ops[name]] : [])));
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

/** Each op over the whole window, by the runner's own engine: histograms added exactly, counts summed. */
function mergeSummaries(results: ResultFile[], seconds: number): Record<string, OpSummary> {
  const names = new Set(results.flatMap((r) => Object.keys(r.summary)));
  const out: Record<string, OpSummary> = {};
  for (const name of names)
    out[name] = mergeOpSummaries(
      results.flatMap((r) => (r.summary[name] ? [r.summary[name]] : [])),
      seconds,
    );
  return out;
}

function mergeSamples(results: ResultFile[]): CountedSample[] {
  const book = new SampleBook();
  for (const s of results.flatMap((r) => r.errorSamples)) book.add(s, s.count);
  return book.list();
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

/** Every shard's idle connections, added up (each shard held its share of --idle-conns). */
function mergeIdle(results: ResultFile[]): ResultFile["idle"] {
  const all = results.flatMap((r) => (r.idle ? [r.idle] : []));
  if (all.length === 0) return undefined;
  const add = (k: Exclude<keyof NonNullable<ResultFile["idle"]>, "everySec">) =>
    all.reduce((n, i) => n + i[k], 0);
  return {
    planned: add("planned"),
    connected: add("connected"),
    failedToConnect: add("failedToConnect"),
    heldAtEnd: add("heldAtEnd"),
    everySec: all[0]!.everySec,
    queries: add("queries"),
    errors: add("errors"),
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

/** What the merge rules read: the shards in index order, and what more than one rule needs, worked out once. */
interface MergeInput {
  spec: ShardSpec;
  ordered: ShardFile[];
  results: ResultFile[];
  first: ResultFile;
  missing: number[];
  elapsedSec: number;
  summary: Record<string, OpSummary>;
  windows: Pick<ResultFile, "window" | "generator">;
  thresholds: ResultFile["thresholds"];
  partial: boolean;
  outages: ResultFile["outages"];
  stalls: SystemStall[];
}

/**
 * How each field of the merged result comes from the shards': one rule per field of ResultFile, optional ones
 * included, so that a field added to the result without a rule here does not compile.
 */
export type MergeRules = { [K in keyof ResultFile]-?: (m: MergeInput) => ResultFile[K] };

const sum = (results: ResultFile[], f: (r: ResultFile) => number) => results.reduce((n, r) => n + f(r), 0);

export const MERGE_RULES: MergeRules = {
  // What every shard of one plan shares (check() made sure), from the first.
  schema: (m) => m.first.schema,
  version: (m) => m.first.version,
  tool: (m) => m.first.tool,
  label: (m) => m.first.label,
  workload: (m) => m.first.workload,
  server: (m) => m.first.server,
  // The plan as one host would have run it: every shard's clients, rate and workers.
  plan: (m) => {
    const { shard: _shard, ...plan } = m.first.plan;
    return {
      ...plan,
      conns: m.spec.conns,
      ...(m.spec.rate !== undefined ? { rate: m.spec.rate } : {}),
      ...(plan.idleConns !== undefined ? { idleConns: sum(m.results, (r) => r.plan.idleConns ?? 0) } : {}),
      workers: sum(m.results, (r) => r.plan.workers),
    };
  },
  startedAt: (m) => m.results.map((r) => r.startedAt).sort()[0],
  endedAt: (m) =>
    m.results
      .map((r) => r.endedAt)
      .sort()
      .reverse()[0],
  elapsedSec: (m) => m.elapsedSec,
  window: (m) => m.windows.window,
  generator: (m) => m.windows.generator,
  partial: (m) => m.partial,
  stopReason: (m) => m.results.find((r) => r.partial)?.stopReason ?? m.first.stopReason,
  exitCode: (m) => (m.partial ? 1 : m.thresholds.some((t) => !t.ok) ? 3 : 0),
  clients: (m) => ({
    planned: m.spec.conns,
    connected: sum(m.results, (r) => r.clients.connected),
    failedToConnect: sum(m.results, (r) => r.clients.failedToConnect),
  }),
  idle: (m) => mergeIdle(m.results),
  summary: (m) => m.summary,
  counters: (m) => ({
    reconnects: sum(m.results, (r) => r.counters.reconnects),
    missed: sum(m.results, (r) => r.counters.missed),
    abandoned: sum(m.results, (r) => r.counters.abandoned),
  }),
  errorSamples: (m) => mergeSamples(m.results),
  // One database behind every shard: each sampled the same server, so one shard's view stands for all.
  observed: (m) => m.results.find((r) => r.observed)?.observed,
  serverSide: (m) => fleetServerSide(m.results, m.summary[CYCLE]?.count ?? 0),
  faults: (m) => m.results.flatMap((r) => r.faults),
  availability: (m) =>
    availability(
      m.results.flatMap((r) => r.faults),
      m.outages,
      m.stalls,
      Math.max(...m.results.map((r) => r.window?.to ?? Infinity)),
    ),
  outages: (m) => m.outages,
  stalls: (m) => m.stalls,
  thresholds: (m) => m.thresholds,
  timeline: (m) => mergeTimelines(m.results),
  resources: (m) => sumResources(m.results.map((r) => r.resources)),
  // No one host ran the merged result: each shard's host is in merge.shards.
  host: () => undefined,
  merge: (m) => {
    const offsets = m.results.flatMap((r) => (r.host?.clock ? [r.host.clock.offsetMs] : []));
    return {
      count: m.spec.count,
      shards: m.ordered.map(({ file, result: r }) => ({
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
      })),
      missing: m.missing,
      clockSpreadMs: offsets.length >= 2 ? +(Math.max(...offsets) - Math.min(...offsets)).toFixed(3) : null,
    };
  },
};

/** A result built field by field from `rules` (a field whose rule gives undefined is left out). */
export function applyRules(rules: MergeRules, input: MergeInput): ResultFile {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(rules) as Array<keyof ResultFile>) {
    const value = rules[key](input);
    if (value !== undefined) out[key] = value;
  }
  return out as unknown as ResultFile;
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
  const stalls = intersectStalls(results.map((r) => r.stalls ?? []));
  const windows = mergeWindows(results);
  const thresholds = evaluateThresholds(first.plan.thresholds, { summary, generator: windows.generator });
  const partial = missing.length > 0 || results.some((r) => r.partial);
  return applyRules(MERGE_RULES, {
    spec,
    ordered,
    results,
    first,
    missing,
    elapsedSec,
    summary,
    windows,
    thresholds,
    partial,
    outages: results.flatMap((r) => r.outages),
    stalls,
  });
}
