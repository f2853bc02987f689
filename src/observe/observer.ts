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

/**
 * Samples the server side every interval through its samplers: backend sessions from the database, pools and
 * waits from PgBouncer. A sampler that cannot connect at the start is left out with a warning; one whose
 * connection breaks during the run (a fault test restarting the server, say) misses samples and reconnects at
 * the next interval. It never affects the measured run.
 */
export class Observer {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private current: Record<string, number> | undefined;
  private readonly acc = new Map<string, { min: number; sum: number; max: number; n: number }>();
  private samples = 0;
  /** Each working sampler, and whether its connection is up. */
  private readonly samplers: Array<{ sampler: Sampler; connected: boolean }>;

  private constructor(samplers: Sampler[]) {
    this.samplers = samplers.map((sampler) => ({ sampler, connected: true }));
  }

  get active(): boolean {
    return this.samplers.length > 0;
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
    const observer = new Observer(working);
    if (observer.active) {
      observer.timer = setInterval(() => void observer.tick(), opts.intervalMs);
      void observer.tick();
    }
    return observer;
  }

  /** One sampler's figures; none when its connection is lost (it reconnects at the next interval). */
  private async sampleOne(s: { sampler: Sampler; connected: boolean }): Promise<Record<string, number>> {
    try {
      if (!s.connected) {
        await s.sampler.connect();
        s.connected = true;
      }
      return await s.sampler.sample();
    } catch {
      s.connected = false;
      await s.sampler.close();
      return {};
    }
  }

  /** One sample now (the timer calls it every interval). */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const values: Record<string, number> = {};
      for (const s of this.samplers) Object.assign(values, await this.sampleOne(s));
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
    for (const { sampler } of this.samplers) sampler.summarize?.(out);
    return out;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    // One last sample, so that the pool's wait totals cover the whole run.
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
    if (this.active) await this.tick();
    await Promise.all(this.samplers.map(({ sampler }) => sampler.close()));
  }
}
