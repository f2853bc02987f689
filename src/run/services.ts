import { UsageError } from "../errors.js";
import type { Fault } from "../faults/fault.js";
import { FaultScheduler } from "../faults/scheduler.js";
import type { Aggregator } from "../metrics/aggregate.js";
import { Observer } from "../observe/observer.js";
import { exposition, servePrometheus } from "../observe/prometheus.js";
import type { RunPlan } from "../plan.js";
import type { FaultRecord, ObservedSummary } from "../schema/events.js";
import type { ServerInfo } from "../schema/result.js";
import type { RunHooks } from "../runner/runner.js";

/** What runs beside the load: where to sample the server side, the live metrics port, the faults. */
export interface SideServiceOptions {
  /** Direct URI for the database sampler and PgBouncer admin consoles; absent/empty: not sampled. */
  observe?: { observeUri?: string; pgbouncerAdmins: string[] };
  prometheusPort?: number;
  /** Faults to carry out on the local stack in `dir` (empty list: none). */
  faults?: { dir: string; list: Fault[] };
}

/**
 * The services beside one run, started together and stopped together: the server-side observer, the
 * Prometheus endpoint (which serves the observer's latest samples and the runner's aggregate), and the fault
 * scheduler (started at the run's common t0).
 */
export class SideServices {
  /** The runner's aggregate, as of its latest interval: what the Prometheus endpoint serves (nothing before). */
  private agg: Aggregator | undefined;
  private prometheus: { close(): void } | undefined;
  private observer: Observer | undefined;
  private scheduler: FaultScheduler | undefined;

  private constructor(private readonly plan: RunPlan) {}

  /**
   * Binds the Prometheus port first (a busy port is bad input: one line, before any connection), then starts
   * the observer; the fault scheduler waits for the run's t0.
   */
  static async start(
    plan: RunPlan,
    server: ServerInfo,
    opts: SideServiceOptions,
    notice: (line: string) => void,
  ): Promise<SideServices> {
    const services = new SideServices(plan);
    if (opts.prometheusPort !== undefined) {
      const port = opts.prometheusPort;
      services.prometheus = await servePrometheus(port, () => services.exposition()).catch((err: Error) => {
        throw new UsageError(`--prometheus-port ${port}: ${err.message}`);
      });
    }
    try {
      services.observer = await Observer.start(
        {
          observeUri: opts.observe?.observeUri,
          pgbouncerAdmins: opts.observe?.pgbouncerAdmins ?? [],
          appName: plan.appName,
          database: new URL(plan.uri).pathname.slice(1) || "postgres",
          dialect: server.product,
          intervalMs: plan.intervalMs,
        },
        notice,
      );
    } catch (err) {
      services.prometheus?.close();
      throw err;
    }
    const faults = opts.faults?.list.length ? opts.faults : undefined;
    if (faults) services.scheduler = new FaultScheduler(faults.dir, faults.list, notice);
    return services;
  }

  private exposition(): string {
    return this.agg ? exposition(this.plan.label, this.agg, this.observer?.latest()) : "";
  }

  /** The runner's hooks these services need: the fault clock, the samples per interval, the live aggregate. */
  hooks(): Required<Pick<RunHooks, "onStart" | "onInterval">> & Pick<RunHooks, "observe"> {
    const observer = this.observer;
    return {
      onStart: (t0) => this.scheduler?.start(t0),
      observe: observer?.active ? () => observer.latest() : undefined,
      onInterval: (_entry, agg) => {
        this.agg = agg;
      },
    };
  }

  /** Stops everything; what the observer saw and what the faults did. */
  async stop(): Promise<{ observed?: ObservedSummary; faults: FaultRecord[] }> {
    this.prometheus?.close();
    await this.observer?.stop();
    const faults = (await this.scheduler?.stop()) ?? [];
    return { observed: this.observer?.summary(), faults };
  }
}
