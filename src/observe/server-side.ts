import { availableParallelism } from "node:os";
import { redactUri } from "../db/uri.js";
import {
  POOLER_BOUND_PCT,
  SERVER_SIDE_VERSION,
  type PoolerBound,
  type PoolerCost,
  type ServerSide,
  type ServerSideInterval,
  type ServerSideSummary,
  type TopStatement,
} from "../schema/server-side.js";
import type { Counters } from "./pg-counters.js";
import { procUsage, type ProcUsage } from "./proc-usage.js";
import { OpWaitSampler } from "./op-waits.js";
import { SamplerConnection } from "./sampler-connection.js";
import {
  cockroachParts,
  DATABASE_FIGURES,
  findPostmaster,
  noProcesses,
  postgresParts,
  STATEMENT_FIGURES,
  type Missing,
  type ServerSideOptions,
} from "./server-side-sources.js";
import { OBSERVER_APP, type StatementStats } from "./statements.js";

export type { ServerSideOptions };

/** Backends whose PSS is read each interval (see procUsage): ~0.7 ms of kernel time each. */
const PSS_SAMPLE = 8;

interface Reading {
  at: number;
  counters?: Counters;
  server?: ProcUsage;
  poolers: Map<string, ProcUsage | undefined>;
}

/** Per second between two readings; null across a reset (a counter that went down). */
const rate = (a: number | undefined, b: number | undefined, sec: number) =>
  a === undefined || b === undefined || sec <= 0 || b < a ? null : +((b - a) / sec).toFixed(3);

/**
 * What the server paid during the run, read on a connection of its own every interval: pg_stat_database and
 * pg_stat_wal deltas, /proc for a local server and its poolers, and pg_stat_statements at the start and the
 * end of the measured window. It never resets the server's statistics.
 */
export class ServerSideSampler {
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;
  private turn = 0;
  private t0 = 0;
  private first: Reading | undefined;
  private last: Reading | undefined;
  private peakPssMb: number | null = null;
  private readonly intervals: ServerSideInterval[] = [];
  private current: Record<string, number> | undefined;
  private topStatements: TopStatement[] | undefined;
  private ended = false;
  private stopped = false;
  private starting: Promise<void> | undefined;
  private statementsStart: Promise<unknown> | undefined;
  private ending: Promise<void> | undefined;

  private constructor(
    private readonly opts: ServerSideOptions,
    private readonly client: SamplerConnection | undefined,
    private readonly counters: { read(): Promise<Counters> } | undefined,
    private readonly statements: StatementStats | undefined,
    private readonly missing: Partial<Record<keyof ServerSideSummary, string>>,
    private readonly opWaits?: { sampler: OpWaitSampler; connection: SamplerConnection },
  ) {}

  /** Connects and finds out what can be measured; says once, through `warn`, what cannot and why. */
  static async start(opts: ServerSideOptions, warn: (line: string) => void): Promise<ServerSideSampler> {
    const missing: Missing = {};
    let client: SamplerConnection | undefined;
    let found: ServerSideOptions | undefined;
    try {
      client = await SamplerConnection.open(opts.uri, OBSERVER_APP);
      found = { ...opts, postmaster: await findPostmaster(client, opts) };
      noProcesses(found, missing, warn);
      const parts =
        opts.dialect === "cockroach"
          ? await cockroachParts(client, opts, missing)
          : await postgresParts(client, opts, missing, warn);
      const opWaits = await opWaitSampler(opts, warn);
      return new ServerSideSampler(found, client, parts.counters, parts.statements, missing, opWaits);
    } catch (err) {
      await client?.end().catch(() => {});
      const why = `cannot read the server's statistics at ${redactUri(opts.uri)}: ${(err as Error).message}`;
      for (const k of [...STATEMENT_FIGURES, ...DATABASE_FIGURES]) missing[k] = why;
      warn(`server statistics not measured: ${why}`);
      if (!found) {
        found = { ...opts, postmaster: await findPostmaster(undefined, opts, why) };
        noProcesses(found, missing, warn);
      }
      return new ServerSideSampler(found, undefined, undefined, undefined, missing);
    }
  }

  private async read(): Promise<Reading> {
    const at = performance.now();
    const postmaster = "pid" in this.opts.postmaster ? this.opts.postmaster.pid() : undefined;
    const turn = this.turn++;
    const server = postmaster !== undefined ? procUsage(postmaster, PSS_SAMPLE, turn) : undefined;
    const poolers = new Map(
      this.opts.poolers.map((p) => {
        const pid = p.pid();
        return [p.member, pid !== undefined ? procUsage(pid, 0) : undefined] as const;
      }),
    );
    const counters = await this.counters?.read().catch(() => undefined);
    // CockroachDB off this host: its node's own RSS (one Go process: no shared memory counted twice).
    const rss = counters?.values.rss_bytes;
    const memory = server?.pssMb ?? (rss !== undefined ? +(rss / 2 ** 20).toFixed(1) : null);
    if (memory !== null) this.peakPssMb = Math.max(this.peakPssMb ?? 0, memory);
    return { at, counters, server, poolers };
  }

  /** The start of the measured window (t0 + ramp): the baseline of every delta. */
  markStart(t0: number): Promise<void> {
    this.starting ??= (async () => {
      this.t0 = t0;
      await this.busy;
      if (this.stopped) return;
      this.first = this.last = await this.read();
      if (this.stopped) return;
      this.timer = setInterval(() => void this.tick(), this.opts.intervalMs);
      this.opWaits?.sampler.start();
      // Not awaited here: on a server overloaded by the run this read took a minute, and the window's end (which
      // waits for its start) moved by as much, stretching every figure's window past the client's.
      this.statementsStart = this.statements?.markStart().catch(() => undefined);
    })();
    return this.starting;
  }

  /** One reading now (the timer calls it every interval). */
  tick(): Promise<void> {
    if (this.busy || !this.last || this.ended) return this.busy ?? Promise.resolve();
    this.busy = (async () => {
      const prev = this.last!;
      const now = await this.read();
      this.last = now;
      const entry = intervalOf(prev, now, (Date.now() - this.t0) / 1000);
      this.intervals.push(entry);
      this.current = Object.fromEntries(
        Object.entries({
          srv_cpu_pct: entry.cpuPct,
          srv_mem_mb: entry.memoryMb,
          srv_commits_s: entry.commitsPerSec,
          srv_sessions_opened_s: entry.sessionsOpenedPerSec,
          srv_wal_bytes_s: entry.walBytesPerSec,
          ...Object.fromEntries(Object.entries(entry.poolerCpuPct).map(([m, v]) => [`${m}_cpu_pct`, v])),
        }).filter((kv): kv is [string, number] => kv[1] !== null),
      );
    })().finally(() => (this.busy = undefined));
    return this.busy;
  }

  /** The latest interval's figures, for the progress line, the timeline and Prometheus. */
  latest(): Record<string, number> | undefined {
    return this.current && { ...this.current };
  }

  /** The end of the measured window: the last reading, and the statements' delta (once). */
  markEnd(): Promise<void> {
    this.ending ??= (async () => {
      await this.starting;
      if (!this.first) return;
      clearInterval(this.timer);
      await this.opWaits?.sampler.end();
      await this.tick();
      this.ended = true;
      await this.statementsStart;
      this.topStatements = await this.statements?.delta().catch(() => undefined);
    })();
    return this.ending;
  }

  /** Ends the window if it is still open (a run with no planned end), waits for readings in flight, disconnects. */
  async stop(): Promise<void> {
    if (this.starting) await this.markEnd();
    this.stopped = true;
    clearInterval(this.timer);
    await this.busy;
    await this.opWaits?.sampler.end();
    await this.client?.end().catch(() => {});
    await this.opWaits?.connection.end();
  }

  /**
   * The run's bill. `cycles` completed over the client's measured window of `clientSec`: per-transaction
   * figures divide the server's rate by the client's, since the two windows differ by the interval edges.
   */
  summary(cycles: number, clientSec: number): ServerSide | undefined {
    const { first, last } = this;
    if (!first || !last || last === first) return undefined;
    const sec = (last.at - first.at) / 1000;
    const missing = { ...this.missing };
    const txnInWindow = clientSec > 0 ? (cycles / clientSec) * sec : cycles;
    const summary = summarize(first, last, sec, txnInWindow, this.peakPssMb, this.topStatements, missing);
    const poolers = this.opts.poolers.map((p) => {
      const a = first.poolers.get(p.member);
      const b = last.poolers.get(p.member);
      const restarted = !!a && !!b && a.root !== b.root;
      const cpuSec = a && b && !restarted ? +(b.cpuSec - a.cpuSec).toFixed(3) : null;
      return {
        member: p.member,
        ...(restarted
          ? { note: `${p.member} restarted during the window: its CPU is not one process's` }
          : {}),
        cpuSec,
        cpuPct: cpuSec === null ? null : +((100 * cpuSec) / sec).toFixed(1),
        memoryMb: b?.pssMb ?? null,
      };
    });
    return {
      version: SERVER_SIDE_VERSION,
      dialect: this.opts.dialect,
      windowSec: +sec.toFixed(3),
      summary,
      poolers,
      poolerBound: poolerBoundOf(poolers),
      topStatements: (this.topStatements ?? []).slice(0, 10),
      missing,
      intervals: this.intervals,
      ...(this.opWaits ? { opWaits: this.opWaits.sampler.summary() } : {}),
    };
  }
}

/** --wait-events on PostgreSQL: a sampler on a connection of its own; elsewhere a warning. */
async function opWaitSampler(
  opts: ServerSideOptions,
  warn: (line: string) => void,
): Promise<{ sampler: OpWaitSampler; connection: SamplerConnection } | undefined> {
  if (!opts.opWaits) return undefined;
  if (opts.dialect !== "postgres") {
    warn("--wait-events: PostgreSQL only (pg_stat_activity's wait events); not sampled");
    return undefined;
  }
  const connection = await SamplerConnection.open(opts.uri, OBSERVER_APP);
  return { sampler: new OpWaitSampler(connection), connection };
}

/** The PgBouncer processes that used most of a core over the window (each is one thread). */
export function poolerBoundOf(poolers: PoolerCost[]): PoolerBound[] {
  return poolers.flatMap((p) =>
    p.member.startsWith("pgbouncer") && p.cpuPct !== null && p.cpuPct >= POOLER_BOUND_PCT
      ? [{ member: p.member, cpuPct: p.cpuPct }]
      : [],
  );
}

/** More CPU than the host has (its CPUs, and a tick of rounding each way): a reading that is not one. */
const HOST_CPU_PCT = 100 * availableParallelism();

function intervalOf(a: Reading, b: Reading, t: number): ServerSideInterval {
  const sec = (b.at - a.at) / 1000;
  const v = (r: Reading, k: string) => r.counters?.values[k];
  const cpu = (x?: ProcUsage, y?: ProcUsage) => {
    if (!x || !y || x.root !== y.root || sec <= 0) return null;
    const pct = (100 * (y.cpuSec - x.cpuSec)) / sec;
    return pct < 0 || pct > HOST_CPU_PCT + 2 / sec ? null : +pct.toFixed(1);
  };
  return {
    t: +t.toFixed(3),
    cpuPct: cpu(a.server, b.server),
    memoryMb: b.server?.pssMb ?? null,
    commitsPerSec: rate(v(a, "commits"), v(b, "commits"), sec),
    rollbacksPerSec: rate(v(a, "rollbacks"), v(b, "rollbacks"), sec),
    sessionsOpenedPerSec: rate(v(a, "sessions"), v(b, "sessions"), sec),
    walBytesPerSec: rate(v(a, "wal_bytes"), v(b, "wal_bytes"), sec),
    poolerCpuPct: Object.fromEntries([...b.poolers].map(([m, u]) => [m, cpu(a.poolers.get(m), u)])),
  };
}

function summarize(
  first: Reading,
  last: Reading,
  sec: number,
  cycles: number,
  peakPssMb: number | null,
  statements: TopStatement[] | undefined,
  missing: Partial<Record<keyof ServerSideSummary, string>>,
): ServerSideSummary {
  // A counter that went down was reset (a crash restart of the server): no delta over the window.
  const d = (k: string) => {
    const a = first.counters?.values[k];
    const b = last.counters?.values[k];
    return a === undefined || b === undefined || b < a ? null : b - a;
  };
  const per = (n: number | null, by: number, digits = 3) =>
    n === null || by <= 0 ? null : +(n / by).toFixed(digits);
  // A local server from /proc; else CockroachDB's node metrics (the gateway node's process CPU).
  const nodeCpu = (r: Reading) => {
    const v = r.counters?.values;
    return v?.cpu_user_ns !== undefined && v.cpu_sys_ns !== undefined
      ? (v.cpu_user_ns + v.cpu_sys_ns) / 1e9
      : undefined;
  };
  const [n0, n1] = [nodeCpu(first), nodeCpu(last)];
  // Another postmaster at the end (the server was restarted): not one process tree's CPU.
  const restarted = !!first.server && !!last.server && first.server.root !== last.server.root;
  const cpuDelta = restarted
    ? null
    : first.server && last.server
      ? last.server.cpuSec - first.server.cpuSec
      : n0 !== undefined && n1 !== undefined
        ? n1 - n0
        : null;
  if (restarted || (cpuDelta !== null && cpuDelta < 0))
    missing.cpuSec = "the server restarted during the window";
  if (first.server && !last.server)
    missing.cpuSec ??= "the server's processes were gone at the end of the window";
  const cpuSec = cpuDelta === null || cpuDelta < 0 ? null : +cpuDelta.toFixed(3);
  const calls = statements ? statements.reduce((n, s) => n + s.calls, 0) : null;
  const totalMs = statements ? statements.reduce((n, s) => n + s.totalMs, 0) : null;
  const hit = d("blks_hit");
  const readBlocks = d("blks_read");
  const syncs = d("wal_sync");
  if (cycles === 0) {
    for (const k of ["cpuPerTxnMs", "walBytesPerTxn"] as const) missing[k] ??= "no cycle completed";
  }
  // Only live processes are counted: one that exits takes its bytes with it, and the sum can go down.
  const io = (k: "readBytes" | "writeBytes") => {
    const [a, b] = [first.server?.[k], last.server?.[k]];
    if (a == null || b == null) return null;
    if (b < a)
      missing[k === "readBytes" ? "readMb" : "writeMb"] = "processes that did I/O exited during the window";
    return b < a ? null : +((b - a) / 2 ** 20).toFixed(2);
  };
  if (first.server && io("readBytes") === null) {
    missing.readMb ??= "/proc/PID/io of the server's processes is not readable by this user";
    missing.writeMb ??= missing.readMb;
  }
  if (first.server && peakPssMb === null)
    missing.memoryMb ??= "smaps_rollup of the server's processes is not readable";
  if (statements === undefined) missing.statementMeanMs ??= "pg_stat_statements could not be read at the end";
  const walUntimed = missing.walSyncMeanMs !== undefined;
  if (syncs === 0) missing.walSyncMeanMs ??= "no WAL sync in the window";
  const summary: ServerSideSummary = {
    cpuSec,
    cpuPct: per(cpuSec === null ? null : 100 * cpuSec, sec, 1),
    cpuPerTxnMs: per(cpuSec === null ? null : 1000 * cpuSec, cycles, 4),
    memoryMb: peakPssMb,
    readMb: io("readBytes"),
    writeMb: io("writeBytes"),
    statementMeanMs: per(totalMs, calls ?? 0, 4),
    statementCalls: calls,
    commitsPerSec: per(d("commits"), sec, 1),
    rollbacksPerSec: per(d("rollbacks"), sec, 1),
    sessionsOpenedPerSec: per(d("sessions"), sec, 2),
    cacheHitRatio:
      hit === null || readBlocks === null || hit + readBlocks === 0
        ? null
        : +(hit / (hit + readBlocks)).toFixed(4),
    deadlocks: d("deadlocks"),
    tempBytes: d("temp_bytes"),
    walBytesPerTxn: per(d("wal_bytes"), cycles, 1),
    // Without track_wal_io_timing the syncs are counted but not timed: no mean, not 0.
    walSyncMeanMs: syncs && !walUntimed ? per(d("wal_sync_time"), syncs, 4) : null,
  };
  if (hit !== null && readBlocks !== null && hit + readBlocks === 0)
    missing.cacheHitRatio ??= "no block was read";
  for (const [k, v] of Object.entries(summary) as Array<[keyof ServerSideSummary, number | null]>) {
    if (v === null)
      missing[k] ??= missing.cpuSec && k.startsWith("cpu") ? missing.cpuSec : "its reading failed";
    else delete missing[k];
  }
  return summary;
}
