import pg from "pg";
import type { Dialect } from "../api.js";
import { clientConfig, findPassword } from "../db/connect.js";
import { redactUri } from "../db/uri.js";
import { DbSampler } from "./db-sampler.js";
import { PgbouncerSampler } from "./pgbouncer-sampler.js";

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

export interface SeriesStats {
  min: number;
  mean: number;
  max: number;
}

/** What the samplers saw over the run; the result file's `observed`. */
export interface ObservedSummary {
  samples: number;
  series: Record<string, SeriesStats>;
  /** PgBouncer: time clients waited for a server vs time in transactions, over the run (SHOW STATS). */
  poolWait?: { waitSec: number; xactSec: number; share: number };
}

async function connect(uri: string): Promise<pg.Client> {
  const client = new pg.Client(
    clientConfig({ uri, appName: "dcpbench-observer", connectTimeoutMs: 5000 }, await findPassword(uri)),
  );
  client.on("error", () => {});
  await client.connect();
  return client;
}

/**
 * Samples the server side every interval on connections of its own (not counted as load): backend sessions
 * from the database, pools and waits from PgBouncer. A sampler that cannot connect is left out with a
 * warning; a failed sample is skipped. It never affects the measured run.
 */
export class Observer {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private current: Record<string, number> | undefined;
  private readonly acc = new Map<string, { min: number; sum: number; max: number; n: number }>();
  private samples = 0;

  private constructor(
    private readonly clients: pg.Client[],
    private readonly db: DbSampler | undefined,
    private readonly bouncers: PgbouncerSampler | undefined,
  ) {}

  static async start(opts: ObserveOptions, warn: (line: string) => void): Promise<Observer> {
    const clients: pg.Client[] = [];
    let db: DbSampler | undefined;
    if (opts.observeUri) {
      try {
        const c = await connect(opts.observeUri);
        clients.push(c);
        db = new DbSampler(c, opts.dialect, opts.appName);
        await db.sample();
      } catch (err) {
        warn(`database sampler off: ${redactUri(opts.observeUri)}: ${(err as Error).message}`);
        db = undefined;
      }
    }
    let bouncers: PgbouncerSampler | undefined;
    if (opts.pgbouncerAdmins.length > 0) {
      try {
        const admins = await Promise.all(opts.pgbouncerAdmins.map(connect));
        clients.push(...admins);
        bouncers = new PgbouncerSampler(admins, opts.database);
        await bouncers.sample();
      } catch (err) {
        warn(`PgBouncer sampler off: ${(err as Error).message}`);
        bouncers = undefined;
      }
    }
    const observer = new Observer(clients, db, bouncers);
    if (db || bouncers) {
      observer.timer = setInterval(() => void observer.tick(), opts.intervalMs);
      void observer.tick();
    }
    return observer;
  }

  get active(): boolean {
    return this.db !== undefined || this.bouncers !== undefined;
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const values = { ...(await this.db?.sample()), ...(await this.bouncers?.sample()) };
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
    } catch {
      // a failed sample (the server restarting, say) is skipped
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
    const b = this.bouncers;
    if (b?.first && b.latest) {
      const waitSec = (b.latest.waitUs - b.first.waitUs) / 1e6;
      const xactSec = (b.latest.xactUs - b.first.xactUs) / 1e6;
      out.poolWait = { waitSec, xactSec, share: waitSec + xactSec > 0 ? waitSec / (waitSec + xactSec) : 0 };
    }
    return out;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // One last sample, so that the pool's wait totals cover the whole run.
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
    if (this.active) await this.tick();
    await Promise.all(this.clients.map((c) => c.end().catch(() => {})));
  }
}
