import { UsageError } from "../errors.js";
import type { Fault } from "../faults/fault.js";
import { FaultScheduler } from "../faults/scheduler.js";
import { Observer } from "../observe/observer.js";
import { ServerSideSampler, type ServerSideOptions } from "../observe/server-side.js";
import type { Output } from "../outputs/output.js";
import { PrometheusOutput } from "../outputs/prometheus.js";
import type { RunPlan } from "../plan.js";
import type { FaultRecord, ObservedSummary } from "../schema/events.js";
import type { ServerInfo } from "../schema/result.js";
import type { ServerSide } from "../schema/server-side.js";
import type { RunHooks } from "../runner/runner.js";

/** What runs beside the load: where to sample the server side, the live metrics port, the faults. */
export interface SideServiceOptions {
  /** Direct URI for the database sampler and PgBouncer admin consoles; absent/empty: not sampled. */
  observe?: {
    observeUri?: string;
    pgbouncerAdmins: string[];
    /** What the server paid (statistics, /proc); absent: not measured. */
    server?: Omit<ServerSideOptions, "dialect" | "intervalMs" | "appName">;
  };
  prometheusPort?: number;
  prometheusHost?: string;
  /** Faults to carry out on the local stack in `dir` (empty list: none). */
  faults?: { dir: string; list: Fault[] };
}

/**
 * The services beside one run, started together and stopped together: the server-side observer, the
 * Prometheus endpoint (which serves the observer's latest samples and the runner's aggregate), and the fault
 * scheduler (started at the run's common t0).
 */
export class SideServices {
  private prometheus: PrometheusOutput | undefined;
  private observer: Observer | undefined;
  private serverSide: ServerSideSampler | undefined;
  private scheduler: FaultScheduler | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private t0 = 0;

  private constructor(private readonly plan: RunPlan) {}

  /**
   * Binds the Prometheus port, before anything connects: a busy port is bad input, one line, found first.
   * `start` then starts the samplers; `close` undoes this when the run does not get that far.
   */
  static async bind(plan: RunPlan, opts: SideServiceOptions): Promise<SideServices> {
    const services = new SideServices(plan);
    if (opts.prometheusPort !== undefined) {
      const port = opts.prometheusPort;
      services.prometheus = await PrometheusOutput.bind(port, opts.prometheusHost, plan.label, () =>
        services.latest(),
      ).catch((err: Error) => {
        throw new UsageError(`--prometheus-port ${port}: ${err.message}`);
      });
    }
    return services;
  }

  /** Releases what `bind` took, for a run that stops before `start`. */
  close(): void {
    this.prometheus?.close();
  }

  /** Starts the observer and the server-side sampler; the fault scheduler waits for the run's t0. */
  async start(server: ServerInfo, opts: SideServiceOptions, notice: (line: string) => void): Promise<this> {
    try {
      this.observer = await Observer.start(
        {
          observeUri: opts.observe?.observeUri,
          pgbouncerAdmins: opts.observe?.pgbouncerAdmins ?? [],
          appName: this.plan.appName,
          database: new URL(this.plan.uri).pathname.slice(1) || "postgres",
          dialect: server.product,
          intervalMs: this.plan.intervalMs,
        },
        notice,
      );
      const target = opts.observe?.server;
      if (target) {
        this.serverSide = await ServerSideSampler.start(
          {
            ...target,
            appName: this.plan.appName,
            dialect: server.product,
            intervalMs: this.plan.intervalMs,
            opWaits: this.plan.waitEvents === true,
          },
          notice,
        );
      }
    } catch (err) {
      this.close();
      await this.observer?.stop();
      throw err;
    }
    const faults = opts.faults?.list.length ? opts.faults : undefined;
    if (faults) this.scheduler = new FaultScheduler(faults.dir, faults.list, notice);
    return this;
  }

  /** The outputs these services own (the Prometheus endpoint): the run feeds them every interval. */
  outputs(): Output[] {
    return this.prometheus ? [this.prometheus] : [];
  }

  /** Every sampler's latest figures, as one record for an interval. */
  private latest(): Record<string, number> | undefined {
    const samplers = [this.observer?.active ? this.observer : undefined, this.serverSide];
    const figures = samplers.map((s) => s?.latest()).filter((f) => f !== undefined);
    return figures.length ? Object.assign({}, ...figures) : undefined;
  }

  /** The server-side window is the measured one: from its start to its planned end (else the stop). */
  private startWindow(fromMs: number, toMs: number | null): void {
    const sampler = this.serverSide;
    const t0 = this.t0;
    if (!sampler) return;
    const at = (ms: number, fn: () => Promise<void>) =>
      this.timers.push(setTimeout(() => void fn().catch(() => {}), Math.max(0, t0 + ms - Date.now())));
    at(fromMs, () => sampler.markStart(t0));
    if (toMs !== null) at(toMs, () => sampler.markEnd());
  }

  /** The runner's hooks these services need: the fault clock, the samples per interval, the window's bounds. */
  hooks(): Required<Pick<RunHooks, "onStart" | "onWindow" | "beforeClose">> & Pick<RunHooks, "observe"> {
    return {
      onStart: (t0) => {
        this.t0 = t0;
        this.scheduler?.start(t0);
      },
      onWindow: (fromMs, toMs) => this.startWindow(fromMs, toMs),
      // A run stopped early ends its server-side window here, while its connections are still open.
      beforeClose: async () => {
        for (const t of this.timers) clearTimeout(t);
        await this.serverSide?.markEnd();
      },
      observe: this.observer?.active || this.serverSide ? () => this.latest() : undefined,
    };
  }

  /**
   * Stops everything; what the observer saw, what the faults did, and the server's bill (given the cycles
   * completed in the measured window).
   */
  async stop(): Promise<{
    observed?: ObservedSummary;
    faults: FaultRecord[];
    serverSide: (cycles: number, clientSec: number) => ServerSide | undefined;
  }> {
    for (const t of this.timers) clearTimeout(t);
    this.prometheus?.close();
    await this.observer?.stop();
    await this.serverSide?.stop();
    const faults = (await this.scheduler?.stop()) ?? [];
    const sampler = this.serverSide;
    return {
      observed: this.observer?.summary(),
      faults,
      serverSide: (cycles, clientSec) => sampler?.summary(cycles, clientSec),
    };
  }
}
