import pg from "pg";
import type { Dialect } from "../api.js";
import { clientConfig, connectOrClose, findPassword } from "../db/connect.js";
import { redactUri } from "../db/uri.js";
import { DbSampler } from "./db-sampler.js";
import { PgbouncerSampler } from "./pgbouncer-sampler.js";
import { OBSERVER_APP } from "./statements.js";
import type { ObservedSummary, SeriesStats } from "../schema/events.js";

export interface ObserveOptions {
  /** Where to read pg_stat_activity (a direct URI); undefined: no database sampler. */
  observeUri?: string;
  /** PgBouncer admin consoles (…/pgbouncer); empty: no pool sampler. */
  pgbouncerAdmins: string[];
  /** The run's application_name, to count its own sessions. */
  appName: string;
  /** The measured database, whose PgBouncer pools count. */
  database: string;
  dialect: Dialect;
  intervalMs: number;
}

async function connect(uri: string): Promise<pg.Client> {
  const password = await findPassword(uri);
  const client = new pg.Client(
    clientConfig({ uri, appName: OBSERVER_APP, connectTimeoutMs: 5000 }, password),
  );
  client.on("error", () => {});
  await connectOrClose(client, password);
  return client;
}

/**
 * Samples the server side every interval on connections of its own (not counted as load): backend sessions
 * from the database, pools and waits from PgBouncer. A sampler that cannot connect at the start is left out
 * with a warning; one whose connection breaks during the run (a fault test restarting the server, say)
 * misses samples and reconnects at the next interval. It never affects the measured run.
 */
export class Observer {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private current: Record<string, number> | undefined;
  private readonly acc = new Map<string, { min: number; sum: number; max: number; n: number }>();
  private samples = 0;
  private db: { clients: pg.Client[]; sampler: DbSampler } | undefined;
  private bouncers: { clients: pg.Client[]; sampler: PgbouncerSampler } | undefined;
  /** Totals of PgBouncer's SHOW STATS carried over a reconnect of the pool sampler. */
  private readonly poolWaitParts: Array<{ waitUs: number; xactUs: number }> = [];

  private constructor(
    private readonly opts: ObserveOptions,
    readonly active: boolean,
  ) {}

  private async connectDb(): Promise<void> {
    const c = await connect(this.opts.observeUri!);
    const sampler = new DbSampler(c, this.opts.dialect, this.opts.appName);
    this.db = { clients: [c], sampler };
  }

  private async connectBouncers(): Promise<void> {
    const admins: pg.Client[] = [];
    try {
      for (const uri of this.opts.pgbouncerAdmins) admins.push(await connect(uri));
    } catch (err) {
      await Promise.all(admins.map((c) => c.end().catch(() => {})));
      throw err;
    }
    this.bouncers = { clients: admins, sampler: new PgbouncerSampler(admins, this.opts.database) };
  }

  static async start(opts: ObserveOptions, warn: (line: string) => void): Promise<Observer> {
    let dbOk = false;
    let bouncersOk = false;
    const probe = new Observer(opts, false);
    if (opts.observeUri) {
      try {
        await probe.connectDb();
        await probe.db!.sampler.sample();
        dbOk = true;
      } catch (err) {
        warn(`database sampler off: ${redactUri(opts.observeUri)}: ${(err as Error).message}`);
      }
    }
    if (opts.pgbouncerAdmins.length > 0) {
      try {
        await probe.connectBouncers();
        await probe.bouncers!.sampler.sample();
        bouncersOk = true;
      } catch (err) {
        warn(`PgBouncer sampler off: ${(err as Error).message}`);
      }
    }
    const observer = new Observer(
      {
        ...opts,
        observeUri: dbOk ? opts.observeUri : undefined,
        pgbouncerAdmins: bouncersOk ? opts.pgbouncerAdmins : [],
      },
      dbOk || bouncersOk,
    );
    observer.db = dbOk ? probe.db : undefined;
    observer.bouncers = bouncersOk ? probe.bouncers : undefined;
    if (observer.active) {
      observer.timer = setInterval(() => void observer.tick(), opts.intervalMs);
      void observer.tick();
    }
    return observer;
  }

  private async sampleDb(): Promise<Record<string, number>> {
    if (!this.opts.observeUri) return {};
    try {
      if (!this.db) await this.connectDb();
      return await this.db!.sampler.sample();
    } catch {
      await Promise.all((this.db?.clients ?? []).map((c) => c.end().catch(() => {})));
      this.db = undefined;
      return {};
    }
  }

  private async sampleBouncers(): Promise<Record<string, number>> {
    if (this.opts.pgbouncerAdmins.length === 0) return {};
    try {
      if (!this.bouncers) await this.connectBouncers();
      return await this.bouncers!.sampler.sample();
    } catch {
      const b = this.bouncers;
      if (b?.sampler.first && b.sampler.latest) {
        this.poolWaitParts.push({
          waitUs: b.sampler.latest.waitUs - b.sampler.first.waitUs,
          xactUs: b.sampler.latest.xactUs - b.sampler.first.xactUs,
        });
      }
      await Promise.all((b?.clients ?? []).map((c) => c.end().catch(() => {})));
      this.bouncers = undefined;
      return {};
    }
  }

  /** One sample now (the timer calls it every interval). */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const values = { ...(await this.sampleDb()), ...(await this.sampleBouncers()) };
      if (Object.keys(values).length === 0) return;
      this.current = values;
      this.samples++;
      for (const [k, v] of Object.entries(values)) {
        const a = this.acc.get(k);
        if (!a) this.acc.set(k, { min: v, sum: v, max: v, n: 1 });
        else {
          a.min = Math.min(a.min, v);
          a.max = Math.max(a.max, v);
          a.sum += v;
          a.n++;
        }
      }
    } finally {
      this.busy = false;
    }
  }

  /** The latest sample, for the timeline and the progress line. */
  latest(): Record<string, number> | undefined {
    return this.current && { ...this.current };
  }

  summary(): ObservedSummary | undefined {
    if (!this.active || this.samples === 0) return undefined;
    const series: Record<string, SeriesStats> = {};
    for (const [k, a] of this.acc) series[k] = { min: a.min, mean: +(a.sum / a.n).toFixed(3), max: a.max };
    const out: ObservedSummary = { samples: this.samples, series };
    const parts = [...this.poolWaitParts];
    const b = this.bouncers?.sampler;
    if (b?.first && b.latest)
      parts.push({ waitUs: b.latest.waitUs - b.first.waitUs, xactUs: b.latest.xactUs - b.first.xactUs });
    if (parts.length) {
      const waitSec = parts.reduce((n, p) => n + p.waitUs, 0) / 1e6;
      const xactSec = parts.reduce((n, p) => n + p.xactUs, 0) / 1e6;
      out.poolWait = { waitSec, xactSec, share: waitSec + xactSec > 0 ? waitSec / (waitSec + xactSec) : 0 };
    }
    return out;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // One last sample, so that the pool's wait totals cover the whole run.
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
    if (this.active) await this.tick();
    const clients = [...(this.db?.clients ?? []), ...(this.bouncers?.clients ?? [])];
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
}
