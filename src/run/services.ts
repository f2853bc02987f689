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
  private aggregator: Aggregator | undefined;
  private server: { close(): void } | undefined;

  private constructor(
    private readonly plan: RunPlan,
    private readonly observer: Observer,
    private readonly scheduler: FaultScheduler | undefined,
  ) {}

  static async start(
    plan: RunPlan,
    server: ServerInfo,
    opts: SideServiceOptions,
    notice: (line: string) => void,
  ): Promise<SideServices> {
    const observer = await Observer.start(
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
    const faults = opts.faults?.list.length ? opts.faults : undefined;
    const scheduler = faults ? new FaultScheduler(faults.dir, faults.list, notice) : undefined;
    const services = new SideServices(plan, observer, scheduler);
    if (opts.prometheusPort !== undefined) {
      const port = opts.prometheusPort;
      try {
        services.server = await servePrometheus(port, () => services.exposition());
      } catch (err) {
        await observer.stop();
        throw new UsageError(`--prometheus-port ${port}: ${(err as Error).message}`);
      }
    }
    return services;
  }

  private exposition(): string {
    return this.aggregator ? exposition(this.plan.label, this.aggregator, this.observer.latest()) : "";
  }

  /** The runner's hooks these services need: the fault clock, the samples per interval, the live aggregate. */
  hooks(): Required<Pick<RunHooks, "onStart" | "onInterval">> & Pick<RunHooks, "observe"> {
    return {
      onStart: (t0) => this.scheduler?.start(t0),
      observe: this.observer.active ? () => this.observer.latest() : undefined,
      onInterval: (_entry, agg) => {
        this.aggregator = agg;
      },
    };
  }

  /** Stops everything; what the observer saw and what the faults did. Safe to call once, after any run. */
  async stop(): Promise<{ observed?: ObservedSummary; faults: FaultRecord[] }> {
    this.server?.close();
    await this.observer.stop();
    const faults = (await this.scheduler?.stop()) ?? [];
    return { observed: this.observer.summary(), faults };
  }
}
