import { RunFailure, UsageError } from "../errors.js";
import { Aggregator, intervalErrors } from "../metrics/aggregate.js";
import { warmUp } from "../metrics/histogram.js";
import { sharesOf, type RunPlan } from "../plan.js";
import { CONNECT, type TimelineEntry } from "../schema/measures.js";
import type { ProcessResources, ServerInfo, StopReason } from "../schema/result.js";
import { requireTaskset } from "./cpu-pin.js";
import { processInterrupts, type Interrupts } from "./interrupts.js";
import { IntervalMerger } from "./interval-merge.js";
import { RunWindow } from "./run-window.js";
import { settle } from "./outcome.js";
import type { FromWorker } from "./protocol.js";
import { ErrorBudget, StopControl } from "./stop.js";
import { WorkerHandle, type WorkerListener, type WorkerReport } from "./worker-handle.js";

/** Time between "start" and the common t0, so that every worker begins together. */
const START_DELAY_MS = 200;
/** After the run: how long a worker gets to exit before it is killed. */
const EXIT_GRACE_MS = 1500;

export interface RunOutcome {
  agg: Aggregator;
  startedAt: Date;
  endedAt: Date;
  partial: boolean;
  stopReason: StopReason;
  exitCode: number;
  workers: WorkerReport[];
  /** The runner process's CPU over this run (not the process's lifetime), and its peak RSS so far. */
  runner: ProcessResources;
  /** --start-at: how late the load started after it (0: on time). */
  lateMs?: number;
  /** The measured window as it was: where it opened and why, and where it ended (seconds after t0). */
  window: {
    /** The common start, epoch ms (0: the load never started). */
    t0: number;
    from: number | null;
    to: number | null;
    warmup: RunWindow["warmup"];
  };
}

export interface RunHooks {
  /** Called once with the common start t0 (epoch ms), e.g. to schedule faults. */
  onStart?(t0: number): void;
  /**
   * Called once when the measured window's place is known (ms after t0; `toMs` null: no planned end): at the
   * start for a fixed warm-up, at steady state for an automatic one.
   */
  onWindow?(fromMs: number, toMs: number | null): void;
  /** Server-side samples to attach to each interval (the runner itself runs no SQL). */
  observe?(): Record<string, number> | undefined;
  onInterval?(entry: TimelineEntry, agg: Aggregator): void;
  /** After the load, before the clients disconnect: the last reading of the server's side. */
  beforeClose?(): Promise<void>;
  onNotice?(line: string): void;
  /** Stop requests (default: this process's SIGINT/SIGTERM). */
  interrupts?: Interrupts;
}

/**
 * One run of the workers: forks them, hands each its share over IPC, holds the start barrier, merges the
 * interval snapshots in order, and ends on the stop condition, a signal, --max-errors or a dead worker —
 * always returning what was measured so that the result can be written.
 */
class WorkerRun implements WorkerListener {
  readonly agg = new Aggregator();
  readonly workers: WorkerHandle[] = [];
  readonly window: RunWindow;
  private t0 = 0;
  private readonly merger: IntervalMerger;
  private readonly stop: StopControl;
  private readonly budget: ErrorBudget;
  private loadStarted = false;
  lateMs: number | undefined;
  private fatal: { message: string; exitCode: number } | undefined;
  private settleFinished!: () => void;
  private readonly finished = new Promise<void>((resolve) => (this.settleFinished = resolve));
  private settleReady!: () => void;
  private readonly allReady = new Promise<void>((resolve) => (this.settleReady = resolve));

  constructor(
    private readonly plan: RunPlan,
    private readonly server: ServerInfo,
    private readonly hooks: RunHooks,
  ) {
    this.window = new RunWindow(plan);
    this.merger = new IntervalMerger(this.window, this.agg, this.workers);
    this.stop = new StopControl(this.workers, () => this.loadStarted, this.notice);
    this.budget = new ErrorBudget(plan.maxErrors);
  }

  private readonly notice = (line: string) => this.hooks.onNotice?.(line);

  spawn(): void {
    const taskset = this.plan.pin ? requireTaskset() : undefined;
    for (const a of sharesOf(this.plan)) {
      const cpu = this.plan.pin?.[a.index % this.plan.pin.length];
      const w = new WorkerHandle(a, this, cpu === undefined ? undefined : { cpu, taskset: taskset! });
      this.workers.push(w);
      w.send({ type: "init", plan: this.plan, server: this.server, assignment: a });
    }
  }

  message(w: WorkerHandle, msg: FromWorker): void {
    switch (msg.type) {
      case "ready":
        w.markReady(msg);
        this.agg.addUntimed(CONNECT, msg.connect);
        for (const sample of msg.samples) this.agg.addSample(sample);
        this.checkReady();
        break;
      case "snapshot":
        w.noteSnapshot(msg.snap);
        this.agg.stalls.add(w.index, msg.snap);
        this.agg.noteWorker(w.index, msg.snap);
        this.merger.add(w.index, msg.snap);
        this.emit(false);
        break;
      case "done":
        w.markDone(msg.reason, msg.idle);
        this.emit(false);
        this.checkFinished();
        break;
      case "fatal":
        // Before the start (a failing workload setup, say) the run cannot go on; after it, the exit
        // that follows is handled as a dead worker.
        if (!this.loadStarted)
          this.fatal ??= { message: `worker ${w.index}: ${msg.message}`, exitCode: msg.exitCode };
        else this.notice(`worker ${w.index}: ${msg.message}`);
        break;
    }
  }

  startFailed(w: WorkerHandle, err: Error): void {
    if (w.ready || w.dead) return;
    this.fatal ??= { message: `worker ${w.index} could not start: ${err.message}`, exitCode: 1 };
    w.markDead(false);
    this.checkReady();
    this.checkFinished();
  }

  exit(w: WorkerHandle, code: number | null, sig: NodeJS.Signals | null): void {
    if (!w.ready && !this.loadStarted && !this.stop.stopping) {
      // Before "ready" (taskset could not pin it, Node could not start it…): its own stderr says why.
      this.fatal ??= {
        message: `worker ${w.index} exited (${sig ?? `code ${code}`}) before it was ready`,
        exitCode: 1,
      };
    }
    if (!w.done) {
      w.markDead();
      if (this.loadStarted && (!this.stop.stopping || sig !== "SIGKILL"))
        this.notice(`worker ${w.index} died (${sig ?? `exit ${code}`})`);
      this.emit(false);
    }
    this.checkReady();
    this.checkFinished();
  }

  private checkReady(): void {
    if (this.workers.every((w) => w.ready || w.dead)) this.settleReady();
  }

  private checkFinished(): void {
    if (this.loadStarted && !this.workers.some((w) => w.live)) this.settleFinished();
  }

  /** Merges what is complete; each new interval goes to the hooks and counts against --max-errors. */
  private emit(flush: boolean): void {
    for (const entry of this.merger.take(flush)) {
      const observed = this.hooks.observe?.();
      if (observed) entry.observed = observed;
      const from = this.stop.stopping ? undefined : this.window.consider(entry, Date.now() - this.t0);
      if (from !== undefined) this.openWindow(from);
      this.hooks.onInterval?.(entry, this.agg);
      if (this.budget.add(intervalErrors(entry.ops)) && !this.stop.stopping) {
        this.notice(`stopping: ${this.budget.errors} errors exceed --max-errors ${this.plan.maxErrors}`);
        this.stop.requestStop({ reason: "max-errors" });
      }
    }
  }

  /** Waits for every worker's clients to connect; throws (after stopping them) when the run cannot start. */
  async ready(): Promise<boolean> {
    // While the workers connect: the first interval's merge is not cold (see warmUp).
    warmUp();
    await this.allReady;
    if (this.stop.stopping) return false;
    const connected = this.workers.reduce((n, w) => n + w.report.connected, 0);
    if (this.fatal || connected === 0) {
      this.stop.stopAll();
      const { fatal } = this;
      if (fatal) throw fatal.exitCode === 2 ? new UsageError(fatal.message) : new RunFailure(fatal.message);
      const sample = this.agg.errorSamples()[0];
      throw new RunFailure(`no client could connect${sample ? `: ${sample.message}` : ""}`);
    }
    const failed = this.workers.reduce((n, w) => n + w.report.failed, 0);
    if (failed > 0)
      this.notice(`${failed} of ${this.plan.conns} clients could not connect; they keep retrying`);
    return true;
  }

  /** Starts every worker at one common t0 and waits until all have ended. */
  async load(): Promise<void> {
    this.loadStarted = true;
    const soonest = Date.now() + START_DELAY_MS;
    let t0 = soonest;
    if (this.plan.startAt !== undefined) {
      // The planned start even when it has passed: intervals stay on the plan's wall-clock grid, shared by
      // every shard, and this one's window is shorter by its lateness.
      t0 = Date.parse(this.plan.startAt);
      this.lateMs = Math.max(0, soonest - t0);
      if (this.plan.plannedEndMs !== null && this.lateMs >= this.plan.plannedEndMs) {
        this.stop.stopAll();
        throw new UsageError(
          `--start-at ${this.plan.startAt} has passed: the planned window ended ${Math.round((this.lateMs - this.plan.plannedEndMs) / 1000)} s ago`,
        );
      }
      if (this.lateMs > 0)
        this.notice(`not ready at --start-at ${this.plan.startAt}: starting at once, ${this.lateMs} ms late`);
      else if (t0 - soonest > 1000)
        this.notice(
          `clients connected; the load starts at ${this.plan.startAt} (in ${((t0 - Date.now()) / 1000).toFixed(1)} s)`,
        );
    }
    this.t0 = t0;
    for (const w of this.workers) w.send({ type: "start", t0 });
    this.hooks.onStart?.(t0);
    if (this.window.fromMs !== undefined) this.hooks.onWindow?.(this.window.fromMs, this.window.toMs);
    this.checkFinished();
    await this.finished;
  }

  /** The warm-up is over: every worker opens the window at `fromMs` after t0, and the services follow. */
  private openWindow(fromMs: number): void {
    const w = this.window;
    this.notice(`warm-up: ${w.warmup?.detail ?? ""}; the window opens at ${(fromMs / 1000).toFixed(0)} s`);
    for (const worker of this.workers) if (worker.live) worker.send({ type: "window", fromMs });
    this.hooks.onWindow?.(fromMs, w.toMs);
  }

  /** The window as it was: it ends where the workers stopped starting its cycles (a stop ends it early). */
  private windowSpan(): RunOutcome["window"] {
    const fromMs = this.window.fromMs;
    if (fromMs === undefined) return { t0: this.t0, from: null, to: null, warmup: this.window.warmup };
    const planned = this.window.toMs;
    const to = this.agg.windowTo ?? (planned !== null ? planned / 1000 : (this.agg.timeline.at(-1)?.t ?? 0));
    return { t0: this.t0, from: fromMs / 1000, to: Math.max(fromMs / 1000, to), warmup: this.window.warmup };
  }

  /** After the load: the last intervals merged, every process gone, the outcome settled. */
  async end(): Promise<Omit<RunOutcome, "startedAt" | "runner">> {
    this.emit(true);
    await this.hooks.beforeClose?.().catch(() => {});
    for (const w of this.workers) if (!w.dead) w.send({ type: "close" });
    const window = this.windowSpan();
    this.agg.measuredSeconds = window.from !== null ? +(window.to! - window.from).toFixed(3) : 0;
    await Promise.all(this.workers.map((w) => w.exited(EXIT_GRACE_MS)));
    for (const w of this.workers) w.takeResources();
    const plannedEnd = this.plan.durationMs !== undefined || this.plan.iterations !== undefined;
    const ends = this.workers.map((w) => ({ dead: w.dead, died: w.report.died, doneReason: w.doneReason }));
    return {
      agg: this.agg,
      endedAt: new Date(),
      ...settle(ends, this.stop.request, plannedEnd),
      workers: this.workers.map((w) => w.report),
      window,
    };
  }

  onSignal = (sig: NodeJS.Signals): void => this.stop.signal(sig);
}

/** Runs the plan's workers to their end; see WorkerRun. Throws when the run cannot start at all. */
export async function runPlan(plan: RunPlan, server: ServerInfo, hooks: RunHooks = {}): Promise<RunOutcome> {
  const startedAt = new Date();
  const cpuBefore = process.cpuUsage();
  const run = new WorkerRun(plan, server, hooks);
  const unsubscribe = (hooks.interrupts ?? processInterrupts).subscribe(run.onSignal);
  try {
    run.spawn();
    if (await run.ready()) await run.load();
  } finally {
    // Once the load has ended a signal changes nothing: the run ended as it did, and its result is written.
    unsubscribe();
  }
  const end = await run.end();
  const cpu = process.cpuUsage(cpuBefore);
  return {
    ...end,
    ...(run.lateMs !== undefined ? { lateMs: run.lateMs } : {}),
    startedAt,
    runner: {
      cpuUserSec: cpu.user / 1e6,
      cpuSystemSec: cpu.system / 1e6,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
    },
  };
}
