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

/**
 * PgBouncer's view, summed over every bouncer (e.g. two behind HAProxy): SHOW POOLS (clients active and
 * waiting, servers active / idle / used, the longest wait) and SHOW STATS (transactions, queries, and the
 * time clients waited for a server, from which the share of latency spent waiting is derived).
 * Only the pools of the measured database count; the admin console's own pool does not.
 */
export class PgbouncerSampler implements Sampler {
  readonly name = "PgBouncer sampler";
  private admins: pg.Client[] = [];
  private last: StatsTotals | undefined;
  private lastAt = 0;
  /** Totals at the first and the latest sample since (re)connecting: the run's own share of waiting. */
  private first: StatsTotals | undefined;
  private latest: StatsTotals | undefined;
  /** The waits of connections lost during the run, carried over a reconnect (PgBouncer's totals restart). */
  private readonly carried: Array<{ waitUs: number; xactUs: number }> = [];

  constructor(private readonly opts: ObserveOptions) {}

  async connect(): Promise<void> {
    const admins: pg.Client[] = [];
    try {
      for (const uri of this.opts.pgbouncerAdmins) admins.push(await samplerClient(uri));
    } catch (err) {
      await closeAll(admins);
      throw err;
    }
    this.admins = admins;
  }

  async close(): Promise<void> {
    if (this.first && this.latest) this.carried.push(this.waitSince(this.first, this.latest));
    this.first = this.latest = this.last = undefined;
    await closeAll(this.admins);
    this.admins = [];
  }

  private waitSince(from: StatsTotals, to: StatsTotals) {
    return { waitUs: to.waitUs - from.waitUs, xactUs: to.xactUs - from.xactUs };
  }

  /** The share of the run's transaction time its clients spent waiting for a server connection. */
  summarize(out: ObservedSummary): void {
    const parts = [...this.carried];
    if (this.first && this.latest) parts.push(this.waitSince(this.first, this.latest));
    if (!parts.length) return;
    const waitSec = parts.reduce((n, p) => n + p.waitUs, 0) / 1e6;
    const xactSec = parts.reduce((n, p) => n + p.xactUs, 0) / 1e6;
    out.poolWait = { waitSec, xactSec, share: waitSec + xactSec > 0 ? waitSec / (waitSec + xactSec) : 0 };
  }

  async sample(): Promise<Record<string, number>> {
    const out: Record<string, number> = {
      pgb_cl_active: 0,
      pgb_cl_waiting: 0,
      pgb_sv_active: 0,
      pgb_sv_idle: 0,
      pgb_sv_used: 0,
      pgb_maxwait_ms: 0,
      pgb_pool_size: 0,
    };
    const totals: StatsTotals = { xacts: 0, queries: 0, waitUs: 0, xactUs: 0 };
    for (const admin of this.admins) {
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
      for (const s of stats.rows.filter((r) => r.database === this.opts.database)) {
        totals.xacts += Number(s.total_xact_count);
        totals.queries += Number(s.total_query_count);
        totals.waitUs += Number(s.total_wait_time);
        totals.xactUs += Number(s.total_xact_time);
      }
    }
    const now = Date.now();
    if (this.last) {
      const dt = (now - this.lastAt) / 1000;
      const xacts = totals.xacts - this.last.xacts;
      const waitUs = totals.waitUs - this.last.waitUs;
      const xactUs = totals.xactUs - this.last.xactUs;
      out.pgb_xact_per_s = dt > 0 ? xacts / dt : 0;
      out.pgb_query_per_s = dt > 0 ? (totals.queries - this.last.queries) / dt : 0;
      out.pgb_avg_wait_ms = xacts > 0 ? waitUs / xacts / 1000 : 0;
      out.pgb_wait_share = waitUs + xactUs > 0 ? waitUs / (waitUs + xactUs) : 0;
    }
    this.first ??= totals;
    this.latest = totals;
    this.last = totals;
    this.lastAt = now;
    return out;
  }
}
