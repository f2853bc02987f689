import { DbSampler } from "./db-sampler.js";
import { PgbouncerSampler } from "./pgbouncer-sampler.js";
import type { ObserveOptions, Sampler } from "./sampler.js";
import type { ObservedSummary, SeriesStats } from "../schema/events.js";

export type { ObserveOptions } from "./sampler.js";

/** The samplers an observer may run, each where its options ask for it: a new sampler is one line here. */
const SAMPLERS: Array<(o: ObserveOptions) => Sampler | undefined> = [
  (o) => (o.observeUri ? new DbSampler(o) : undefined),
  (o) => (o.pgbouncerAdmins.length > 0 ? new PgbouncerSampler(o) : undefined),
];

/** A sample no older than this (or two intervals) still stands for the current interval. */
const STALE_AFTER_MS = 2000;

/** One sampler and what it last gave. */
interface Source {
  sampler: Sampler;
  connected: boolean;
  /** Its sample in flight, if any: the next interval skips it rather than queueing behind it. */
  busy?: Promise<void>;
  current?: Record<string, number>;
  currentAt: number;
  samples: number;
}

/**
 * Samples the server side every interval through its samplers: backend sessions from the database, pools and
 * waits from PgBouncer. A sampler that cannot connect at the start is left out with a warning; one whose
 * connection breaks during the run (a fault test restarting the server, say) misses samples and reconnects at
 * the next interval. Each samples on its own, so that one waiting on a server that stopped answering (bounded
 * by its statement timeout) holds up neither the others nor the run. It never affects the measured run.
 */
export class Observer {
  private timer: NodeJS.Timeout | undefined;
  private readonly acc = new Map<string, { min: number; sum: number; max: number; n: number }>();
  private readonly sources: Source[];

  private constructor(
    samplers: Sampler[],
    private readonly intervalMs: number,
  ) {
    this.sources = samplers.map((sampler) => ({ sampler, connected: true, currentAt: 0, samples: 0 }));
  }

  get active(): boolean {
    return this.sources.length > 0;
  }

  static async start(opts: ObserveOptions, warn: (line: string) => void): Promise<Observer> {
    const working: Sampler[] = [];
    for (const make of SAMPLERS) {
      const sampler = make(opts);
      if (!sampler) continue;
      try {
        await sampler.connect();
        await sampler.sample();
        working.push(sampler);
      } catch (err) {
        await sampler.close();
        const where = sampler.target ? `${sampler.target}: ` : "";
        warn(`${sampler.name} off: ${where}${(err as Error).message}`);
      }
    }
    const observer = new Observer(working, opts.intervalMs);
    if (observer.active) {
      observer.timer = setInterval(() => void observer.tick(), opts.intervalMs);
      void observer.tick();
    }
    return observer;
  }

  /** One sampler's figures; none when its connection is lost (it reconnects at the next interval). */
  private async sampleOne(s: Source): Promise<Record<string, number>> {
    try {
      if (!s.connected) {
        await s.sampler.connect();
        s.connected = true;
      }
      return await s.sampler.sample();
    } catch {
      s.connected = false;
      s.current = undefined;
      await s.sampler.close();
      return {};
    }
  }

  private async sampleAndKeep(s: Source): Promise<void> {
    const values = await this.sampleOne(s);
    if (Object.keys(values).length === 0) return;
    s.current = values;
    s.currentAt = Date.now();
    s.samples++;
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
  }

  /** One sample now from each sampler that is not still busy with its last (the timer calls it every interval). */
  tick(): Promise<void> {
    for (const s of this.sources) {
      s.busy ??= this.sampleAndKeep(s).finally(() => (s.busy = undefined));
    }
    return Promise.all(this.sources.map((s) => s.busy)).then(() => {});
  }

  /**
   * The latest samples, for the timeline and the progress line. A sampler's figures are left out once they are
   * two intervals (at least 2 s) old, as when it waits on a server that stopped answering: an interval shows none
   * rather than stale ones.
   */
  latest(): Record<string, number> | undefined {
    const maxAge = Math.max(2 * this.intervalMs, STALE_AFTER_MS);
    const fresh = this.sources.filter((s) => s.current && Date.now() - s.currentAt <= maxAge);
    return fresh.length ? Object.assign({}, ...fresh.map((s) => s.current)) : undefined;
  }

  summary(): ObservedSummary | undefined {
    const samples = Math.max(0, ...this.sources.map((s) => s.samples));
    if (!this.active || samples === 0) return undefined;
    const series: Record<string, SeriesStats> = {};
    for (const [k, a] of this.acc) series[k] = { min: a.min, mean: +(a.sum / a.n).toFixed(3), max: a.max };
    const out: ObservedSummary = { samples, series };
    for (const { sampler } of this.sources) sampler.summarize?.(out);
    return out;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // One last sample, so that the pool's wait totals cover the whole run (after the one in flight, if any),
    // from the samplers still connected: a reconnect now would only wait on a server that is gone.
    await Promise.all(this.sources.map((s) => s.busy));
    await Promise.all(this.sources.filter((s) => s.connected).map((s) => this.sampleAndKeep(s)));
    await Promise.all(this.sources.map(({ sampler }) => sampler.close()));
  }
}
