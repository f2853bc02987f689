import { performance } from "node:perf_hooks";
import pLimit from "p-limit";
import type { ClientContext, Workload } from "../api.js";
import { clientConfig, findPassword } from "../db/connect.js";
import { sessionMode } from "../db/query-mode.js";
import { warmUp } from "../metrics/histogram.js";
import { IntervalRecorder } from "../metrics/recorder.js";
import type { RunPlan, Share } from "../plan.js";
import { loadWorkload } from "../workload/registry.js";
import { BenchClient } from "./client.js";
import { IdleConnections } from "./idle-conns.js";
import { Alarm } from "./alarm.js";
import { Pacer, Sleeper } from "./pacing.js";
import { CycleWindow } from "./window.js";
import { watchFreezes } from "./freeze-watch.js";
import type { FromWorker, ToWorker } from "./protocol.js";
import type { ServerInfo } from "../schema/result.js";
import { CONNECT } from "../schema/measures.js";

/** Clients of one worker connecting at the same time: enough to be quick, few enough not to storm a server. */
const CONNECT_CONCURRENCY = 32;
/** After a stop (a signal, --max-errors): how long the window's cycles in flight may take to finish. */
const STOP_GRACE_MS = 1500;
/** After "done", how long the clients wait for the runner's "close" before they disconnect anyway. */
const CLOSE_WAIT_MS = 10_000;

const send = (msg: FromWorker): Promise<void> =>
  new Promise((resolve) =>
    process.connected ? process.send!(msg, undefined, {}, () => resolve()) : resolve(),
  );

function nextMessage<T extends ToWorker["type"]>(type: T): Promise<Extract<ToWorker, { type: T }>> {
  return new Promise((resolve) => {
    const on = (msg: ToWorker) => {
      if (msg.type !== type) return;
      process.off("message", on);
      resolve(msg as Extract<ToWorker, { type: T }>);
    };
    process.on("message", on);
  });
}

/**
 * Open loop without --ramp: the warm-up's first half raises the rate from 0, so that a cold start (JIT,
 * the server's caches) does not build a backlog at full rate that outlasts the warm-up; its second half runs
 * at the full rate before the window opens.
 */
function pacerRampMs(plan: RunPlan): number {
  return plan.rampMs > 0 ? plan.rampMs : plan.warmupMs / 2;
}

function makeContext(plan: RunPlan, server: ServerInfo, clientId: number, workerId: number): ClientContext {
  return {
    knobs: plan.knobs,
    dialect: server.product,
    clientId,
    workerId,
    state: {},
    random: Math.random,
    randomInt: (min, max) => min + Math.floor(Math.random() * (max - min + 1)),
    chance: (pct) => pct >= 100 || (pct > 0 && Math.random() * 100 < pct),
  };
}

class Worker {
  private readonly stop = new AbortController();
  private readonly sleeper = new Sleeper(this.stop.signal);
  /** Open loop: sub-millisecond wake-ups for the intended starts (its thread is started before the barrier). */
  private alarm: Alarm | undefined;
  private readonly connectRec = new IntervalRecorder();
  private readonly rec = new IntervalRecorder();
  private readonly window = new CycleWindow();
  private clients: BenchClient[] = [];
  private idle: IdleConnections | undefined;
  private started = 0;
  /** Cycles each client has claimed, for --iterations-split even. */
  private startedBy: number[] = [];
  private seq = 0;
  private t0 = 0;
  private windowTimer: NodeJS.Timeout | undefined;
  private reason: "deadline" | "iterations" | "stopped" = "stopped";

  constructor(
    private readonly plan: RunPlan,
    private readonly server: ServerInfo,
    private readonly assignment: Share,
    private readonly workload: Workload,
  ) {}

  async prepare(): Promise<FromWorker> {
    if (this.assignment.rate) {
      this.alarm = new Alarm(this.stop.signal, (err) => {
        void send({ type: "fatal", message: `open-loop pacing failed: ${err.message}`, exitCode: 1 }).then(
          () => process.exit(1),
        );
      });
    }
    const password = await findPassword(this.plan.uri);
    const config = clientConfig(
      { uri: this.plan.uri, appName: this.plan.appName, connectTimeoutMs: this.plan.connectTimeoutMs },
      password,
    );
    this.startedBy = new Array<number>(this.assignment.clients).fill(0);
    this.clients = Array.from({ length: this.assignment.clients }, (_, i) => {
      const id = this.assignment.firstClientId + i;
      return new BenchClient(
        {
          config,
          dialect: this.server.product,
          queryMode: sessionMode(this.plan.queryMode, this.plan.txnPooling),
          connectPerTxn: this.plan.connectPerTxn,
          tagOps: this.plan.waitEvents === true,
          driver: this.plan.driver,
          workload: this.workload,
          ctx: makeContext(this.plan, this.server, id, this.assignment.index),
          clock: () => this.since(performance.now()),
          since: (ms) => this.since(ms),
          window: this.window,
        },
        this.connectRec,
      );
    });
    const limit = pLimit(CONNECT_CONCURRENCY);
    const ok = await Promise.all(
      this.clients.map((c) =>
        limit(async () => {
          if (!(await c.tryConnect()).connected) return false;
          try {
            await c.setup();
          } catch (err) {
            throw new Error(`workload setup failed: ${(err as Error).message}`, { cause: err });
          }
          return true;
        }),
      ),
    );
    for (const c of this.clients) c.useRecorder(this.rec);
    if (this.assignment.idleConns > 0) {
      // Named apart, so that the server's count of the run's sessions is the workload's alone.
      this.idle = new IdleConnections(
        { ...config, application_name: `${this.plan.appName}-idle` },
        this.assignment.idleConns,
        this.plan.idleEveryMs,
      );
      await this.idle.connect();
    }
    warmUp(); // the first interval's snapshot is not cold
    const connected = ok.filter(Boolean).length;
    const snap = this.connectRec.snapshot(0, 0, false);
    return {
      type: "ready",
      connected,
      failed: this.clients.length - connected,
      connect: snap.outside[CONNECT] ?? { count: 0, errors: {}, sqlstates: {}, skipped: 0, retries: 0 },
      samples: snap.samples,
    };
  }

  /** Seconds from the common start to a performance.now() reading (0 before the start is known). */
  private since(ms: number): number {
    return this.t0 === 0 ? 0 : (ms - this.t0) / 1000;
  }

  private elapsed(): number {
    return (performance.now() - this.t0) / 1000;
  }

  private scheduleTicks(): void {
    const tick = () => {
      if (this.stop.signal.aborted) return;
      this.seq++;
      void send({ type: "snapshot", snap: this.rec.snapshot(this.seq, this.elapsed(), false) });
      const next = this.t0 + (this.seq + 1) * this.plan.intervalMs;
      setTimeout(tick, Math.max(0, next - performance.now()));
    };
    setTimeout(tick, Math.max(0, this.t0 + this.plan.intervalMs - performance.now()));
  }

  /** Claims one cycle of the worker's --iterations budget (or client `index`'s share of it); false when spent. */
  private claim(index: number): boolean {
    const n = this.plan.iterations;
    if (n !== undefined) {
      if (this.started >= n) return false;
      if (this.plan.iterationsSplit === "even") {
        const clients = this.clients.length;
        const share = Math.floor(n / clients) + (index < n % clients ? 1 : 0);
        if (this.startedBy[index]! >= share) return false;
        this.startedBy[index]!++;
      }
    }
    this.started++;
    return true;
  }

  private async clientLoop(client: BenchClient, index: number, pacer?: Pacer, alarm?: Alarm): Promise<void> {
    const signal = this.stop.signal;
    // Closed loop ramps by starting clients one after another; open loop ramps the rate (the pacer) instead.
    if (!pacer) {
      const rampStart =
        this.t0 + (this.plan.rampMs * (this.assignment.firstClientId + index)) / this.assignment.planClients;
      if (!(await this.sleeper.until(rampStart))) return;
    }
    while (!signal.aborted) {
      // Only await when there is something to wait for: this loop is the hot path of every client.
      const backoff = client.reconnectDelay();
      if (backoff > 0 && !(await this.sleeper.until(performance.now() + backoff))) return;
      let intended: number | undefined;
      if (pacer && alarm) {
        intended = pacer.take();
        if (intended === undefined) return;
        if (intended > performance.now() && !(await alarm.until(intended))) return;
      } else {
        const think = client.thinkMs();
        if (think > 0 && !(await this.sleeper.until(performance.now() + think))) return;
      }
      if (signal.aborted || !this.claim(index)) return;
      await client.cycle(intended);
      // The loop is awake now: waits that came due meanwhile start without the pacing thread's message.
      alarm?.releaseDue();
    }
  }

  /** Opens the measured window `fromMs` after t0; with a --duration it ends that much later, and the drain begins. */
  openWindow(fromMs: number): void {
    if (this.window.opened || this.t0 === 0) return;
    const length = this.plan.durationMs ?? Infinity;
    this.window.open(this.t0 + fromMs, length);
    if (length === Infinity) return;
    this.windowTimer = setTimeout(() => void this.drain(), Math.max(0, this.window.toMs - performance.now()));
  }

  /**
   * At the window's end: the load goes on until the window's cycles in flight have finished (so that they end
   * under the load they started in), at most --drain; then every client stops.
   */
  private async drain(): Promise<void> {
    if (this.stop.signal.aborted) return;
    this.reason = "deadline";
    const limit = this.plan.drainMs;
    await Promise.race([this.window.drained(), new Promise((r) => setTimeout(r, limit))]);
    this.stop.abort();
  }

  /** Runs every client until the window's end and its drain, the iterations, a stop message or --max-errors. */
  async run(t0Epoch: number): Promise<void> {
    this.t0 = t0Epoch - performance.timeOrigin;
    const plan = this.plan;
    if (!plan.warmupAuto) this.openWindow(plan.windowFromMs);
    const pacer = this.assignment.rate
      ? new Pacer({
          start: this.t0,
          rampMs: pacerRampMs(plan),
          ratePerSec: this.assignment.rate,
          arrival: plan.arrival,
          // Workers' (and shards') first starts staggered across the whole plan's first interval.
          phase: this.assignment.phase,
          notBefore: performance.now(),
        })
      : undefined;
    const alarm = this.alarm;
    const unwatch = watchFreezes(this.stop.signal, (from, to) =>
      this.rec.freeze({ from: this.since(from), to: this.since(to) }),
    );
    this.scheduleTicks();
    await this.sleeper.until(this.t0);
    this.idle?.start();
    const loops = this.clients.map((c, i) => this.clientLoop(c, i, pacer, alarm));
    // Loops end on their own (iterations) or when stop aborts their sleeps.
    const allDone = Promise.all(loops);
    await Promise.race([
      allDone.then(() => {
        if (this.stop.signal.aborted) return;
        const spent = plan.iterations !== undefined && this.started >= plan.iterations;
        this.reason = spent ? "iterations" : "deadline";
      }),
      new Promise<void>((r) => this.stop.signal.addEventListener("abort", () => r())),
    ]);
    const stoppedAt = performance.now();
    this.stop.abort();
    clearTimeout(this.windowTimer);
    unwatch();
    if (this.reason === "stopped") {
      // Stopped early: the window ends here, and what it started gets a short grace.
      this.window.closeAt(stoppedAt);
      await Promise.race([this.window.drained(), new Promise((r) => setTimeout(r, STOP_GRACE_MS))]);
    } else if (this.reason === "iterations") this.window.closeAt(stoppedAt);
    if (pacer) this.rec.missed += pacer.missedBefore(Math.min(this.window.toMs, stoppedAt));
    let cutOff = 0;
    let abandoned = 0;
    for (const c of this.clients) {
      const cut = c.cutOff();
      if (cut === "window") cutOff++;
      else if (cut) abandoned++;
      c.endOpenOutage();
    }
    this.seq++;
    const end = {
      windowTo: this.window.opened ? +this.since(this.window.toMs).toFixed(3) : null,
      cutOff,
      abandoned,
    };
    await send({ type: "snapshot", snap: this.rec.snapshot(this.seq, this.elapsed(), true, end) });
    await send({ type: "done", reason: this.reason, ...(this.idle ? { idle: this.idle.stop() } : {}) });
  }

  requestStop(): void {
    this.stop.abort();
  }

  async close(): Promise<void> {
    await Promise.race([
      Promise.all([...this.clients.map((c) => c.close()), this.idle?.close()]),
      new Promise((r) => setTimeout(r, 1000)),
    ]);
  }
}

async function main(): Promise<void> {
  // Ctrl-C (and a SIGTERM sent to the process group, by `timeout` or a CI runner) reaches every process:
  // the runner decides, workers wait for its "stop" so that their last interval is not lost.
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => {});
  // If the runner goes away, so do we: never an orphan load generator.
  process.on("disconnect", () => process.exit(0));
  const init = await nextMessage("init");
  const workload = await loadWorkload(init.plan.workloadRef);
  const worker = new Worker(init.plan, init.server, init.assignment, workload);
  process.on("message", (msg: ToWorker) => {
    if (msg.type === "stop") worker.requestStop();
    else if (msg.type === "window") worker.openWindow(msg.fromMs);
  });
  await send(await worker.prepare());
  const start = await nextMessage("start");
  await worker.run(start.t0);
  // The connections stay open until the runner has read the server's side of the window: backends that exit
  // while it reads are counted by /proc twice over (their exit and their parent's reaped time).
  await Promise.race([nextMessage("close"), new Promise((r) => setTimeout(r, CLOSE_WAIT_MS))]);
  await worker.close();
  process.exit(0);
}

main().catch(async (err: unknown) => {
  const e = err as { message?: string; exitCode?: number };
  await send({ type: "fatal", message: String(e?.message ?? err), exitCode: e?.exitCode ?? 1 });
  process.exit(1);
});
