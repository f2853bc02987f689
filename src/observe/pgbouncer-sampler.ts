import type pg from "pg";
import type { ObservedSummary } from "../schema/events.js";
import { closeAll, samplerClient, type ObserveOptions, type Sampler } from "./sampler.js";

/** Cumulative counters from SHOW STATS, kept to turn them into per-interval rates. */
interface StatsTotals {
  xacts: number;
  queries: number;
  /** µs clients spent waiting for a server connection. */
  waitUs: number;
  /** µs spent in transactions (linked to a server). */
  xactUs: number;
}

/** One PgBouncer's admin console: its connection (when up) and its counters, kept across reconnects. */
interface Console {
  uri: string;
  client?: pg.Client;
  connecting?: Promise<void>;
  /** Its totals at the first sample (since it started, or restarted), the latest, and the previous sample's. */
  first?: StatsTotals;
  latest?: StatsTotals;
  last?: { totals: StatsTotals; at: number };
  /** The waits it had counted before it restarted (its totals went back to zero). */
  carried: { waitUs: number; xactUs: number };
}

/** One console's answer to a sample. */
interface ConsoleSample {
  out: Record<string, number>;
  /** Its counters' growth since its previous sample, and over how many seconds. */
  delta?: StatsTotals & { sec: number };
}

const FIGURES = [
  "pgb_cl_active",
  "pgb_cl_waiting",
  "pgb_sv_active",
  "pgb_sv_idle",
  "pgb_sv_used",
  "pgb_pool_size",
] as const;

/**
 * PgBouncer's view, summed over every bouncer (e.g. two behind HAProxy): SHOW POOLS (clients active and
 * waiting, servers active / idle / used, the longest wait) and SHOW STATS (transactions, queries, and the
 * time clients waited for a server, from which the share of latency spent waiting is derived).
 * Only the pools of the measured database count; the admin console's own pool does not.
 * Each console is its own: one that is down (a killed PgBouncer, a node that lost power) is left out of the
 * sums until it answers again, and reconnects in the background, so the others' figures go on.
 */
export class PgbouncerSampler implements Sampler {
  readonly name = "PgBouncer sampler";
  private readonly consoles: Console[];
  /** Bumped by close(): a connection that completes after it belongs to no one and is closed. */
  private generation = 0;

  constructor(private readonly opts: ObserveOptions) {
    this.consoles = opts.pgbouncerAdmins.map((uri) => ({ uri, carried: { waitUs: 0, xactUs: 0 } }));
  }

  /** Connects every console it can; fails only when none answers. */
  async connect(): Promise<void> {
    const results = await Promise.allSettled(this.consoles.map((c) => this.connectOne(c)));
    if (!this.consoles.some((c) => c.client)) {
      throw (results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason;
    }
  }

  private connectOne(c: Console): Promise<void> {
    const generation = this.generation;
    c.connecting ??= samplerClient(c.uri)
      .then(async (client) => {
        if (generation === this.generation) c.client = client;
        else await closeAll([client]);
      })
      .finally(() => (c.connecting = undefined));
    return c.connecting;
  }

  async close(): Promise<void> {
    this.generation++;
    const open = this.consoles.flatMap((c) => (c.client ? [c.client] : []));
    for (const c of this.consoles) c.client = undefined;
    await closeAll(open);
  }

  /** The share of the run's transaction time its clients spent waiting for a server connection. */
  summarize(out: ObservedSummary): void {
    const parts = this.consoles.map((c) => ({
      waitUs: c.carried.waitUs + (c.latest && c.first ? c.latest.waitUs - c.first.waitUs : 0),
      xactUs: c.carried.xactUs + (c.latest && c.first ? c.latest.xactUs - c.first.xactUs : 0),
    }));
    if (!this.consoles.some((c) => c.first)) return;
    const waitSec = parts.reduce((n, p) => n + p.waitUs, 0) / 1e6;
    const xactSec = parts.reduce((n, p) => n + p.xactUs, 0) / 1e6;
    out.poolWait = { waitSec, xactSec, share: waitSec + xactSec > 0 ? waitSec / (waitSec + xactSec) : 0 };
  }

  /** Sums the consoles that answered; throws when none did (the observer then reconnects them all). */
  async sample(): Promise<Record<string, number>> {
    const answers = await Promise.all(
      this.consoles.map(async (c) => {
        // A console that misses a sample gives no rate at its next: its counters' growth spans the gap.
        if (!c.client) {
          c.last = undefined;
          void this.connectOne(c).catch(() => {});
          return undefined;
        }
        try {
          return await this.sampleOne(c, c.client);
        } catch {
          if (c.client) void closeAll([c.client]);
          c.client = undefined;
          c.last = undefined;
          return undefined;
        }
      }),
    );
    const answered = answers.filter((a): a is ConsoleSample => a !== undefined);
    if (answered.length === 0) throw new Error("no PgBouncer admin console answered");
    const out: Record<string, number> = { pgb_maxwait_ms: 0 };
    for (const k of FIGURES) out[k] = answered.reduce((n, a) => n + a.out[k], 0);
    out.pgb_maxwait_ms = Math.max(...answered.map((a) => a.out.pgb_maxwait_ms));
    const deltas = answered.flatMap((a) => (a.delta ? [a.delta] : []));
    if (deltas.length > 0) {
      const sum = (k: keyof StatsTotals) => deltas.reduce((n, d) => n + d[k], 0);
      const xacts = sum("xacts");
      const waitUs = sum("waitUs");
      const xactUs = sum("xactUs");
      out.pgb_xact_per_s = deltas.reduce((n, d) => n + (d.sec > 0 ? d.xacts / d.sec : 0), 0);
      out.pgb_query_per_s = deltas.reduce((n, d) => n + (d.sec > 0 ? d.queries / d.sec : 0), 0);
      out.pgb_avg_wait_ms = xacts > 0 ? waitUs / xacts / 1000 : 0;
      out.pgb_wait_share = waitUs + xactUs > 0 ? waitUs / (waitUs + xactUs) : 0;
    }
    return out;
  }

  private async sampleOne(c: Console, admin: pg.Client): Promise<ConsoleSample> {
    const out: Record<string, number> = { pgb_maxwait_ms: 0 };
    for (const k of FIGURES) out[k] = 0;
    // The admin console speaks only the simple protocol: no parameters here.
    const pools = await admin.query("SHOW POOLS");
    for (const p of pools.rows.filter((r) => r.database === this.opts.database)) {
      out.pgb_cl_active += Number(p.cl_active);
      out.pgb_cl_waiting += Number(p.cl_waiting);
      out.pgb_sv_active += Number(p.sv_active);
      out.pgb_sv_idle += Number(p.sv_idle);
      out.pgb_sv_used += Number(p.sv_used);
      const wait = Number(p.maxwait) * 1000 + Number(p.maxwait_us ?? 0) / 1000;
      out.pgb_maxwait_ms = Math.max(out.pgb_maxwait_ms, wait);
    }
    // How many server connections the pools may open: a pool below it with clients waiting is still filling.
    const dbs = await admin.query("SHOW DATABASES");
    for (const d of dbs.rows.filter((r) => r.name === this.opts.database))
      out.pgb_pool_size += Number(d.pool_size);
    const stats = await admin.query("SHOW STATS");
    const totals: StatsTotals = { xacts: 0, queries: 0, waitUs: 0, xactUs: 0 };
    for (const s of stats.rows.filter((r) => r.database === this.opts.database)) {
      totals.xacts += Number(s.total_xact_count);
      totals.queries += Number(s.total_query_count);
      totals.waitUs += Number(s.total_wait_time);
      totals.xactUs += Number(s.total_xact_time);
    }
    return { out, delta: this.record(c, totals) };
  }

  /** Keeps a console's totals; its growth since its previous sample, unless it restarted in between. */
  private record(c: Console, totals: StatsTotals): ConsoleSample["delta"] {
    const now = Date.now();
    const prev = c.last;
    const restarted =
      c.latest !== undefined &&
      (totals.xacts < c.latest.xacts || totals.waitUs < c.latest.waitUs || totals.xactUs < c.latest.xactUs);
    if (restarted && c.first && c.latest) {
      c.carried.waitUs += c.latest.waitUs - c.first.waitUs;
      c.carried.xactUs += c.latest.xactUs - c.first.xactUs;
      c.first = totals;
    }
    c.first ??= totals;
    c.latest = totals;
    c.last = { totals, at: now };
    if (!prev || restarted) return undefined;
    const t = prev.totals;
    return {
      xacts: totals.xacts - t.xacts,
      queries: totals.queries - t.queries,
      waitUs: totals.waitUs - t.waitUs,
      xactUs: totals.xactUs - t.xactUs,
      sec: (now - prev.at) / 1000,
    };
  }
}
