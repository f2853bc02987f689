import { performance } from "node:perf_hooks";
import pLimit from "p-limit";
import type { ClientContext, Workload } from "../api.js";
import { clientConfig, findPassword } from "../db/connect.js";
import { sessionMode } from "../db/query-mode.js";
import { warmUp } from "../metrics/histogram.js";
import { IntervalRecorder } from "../metrics/recorder.js";
import type { RunPlan } from "../plan.js";
import { loadWorkload } from "../workload/registry.js";
import { BenchClient } from "./client.js";
import { Alarm } from "./alarm.js";
import { Pacer, Sleeper } from "./pacing.js";
import type { Assignment, FromWorker, ToWorker } from "./protocol.js";
import type { ServerInfo } from "../schema/result.js";
import { CONNECT } from "../schema/measures.js";

/** Clients of one worker connecting at the same time: enough to be quick, few enough not to storm a server. */
const CONNECT_CONCURRENCY = 32;
/** How long in-flight cycles may finish after the end before they are abandoned. */
const STOP_GRACE_MS = 1500;

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
  return plan.rampMs > 0 ? plan.rampMs : (plan.warmupMs ?? 0) / 2;
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
  private clients: BenchClient[] = [];
  private started = 0;
  /** Cycles each client has claimed, for --iterations-split even. */
  private startedBy: number[] = [];
  private seq = 0;
  private t0 = 0;

  constructor(
    private readonly plan: RunPlan,
    private readonly server: ServerInfo,
    private readonly assignment: Assignment,
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
          driver: this.plan.driver,
          workload: this.workload,
          ctx: makeContext(this.plan, this.server, id, this.assignment.index),
          clock: () => this.since(performance.now()),
          since: (ms) => this.since(ms),
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
    warmUp(); // the first interval's snapshot is not cold
    const connected = ok.filter(Boolean).length;
    const snap = this.connectRec.snapshot(0, 0, false);
    return {
      type: "ready",
      connected,
      failed: this.clients.length - connected,
      connect: snap.ops[CONNECT] ?? { count: 0, errors: {}, sqlstates: {}, skipped: 0, retries: 0 },
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

  private async clientLoop(
    client: BenchClient,
    index: number,
    deadline: number,
    pacer?: Pacer,
    alarm?: Alarm,
  ): Promise<void> {
    const signal = this.stop.signal;
    // Closed loop ramps by starting clients one after another; open loop ramps the rate (the pacer) instead.
    if (!pacer) {
      const rampStart =
        this.t0 +
        (this.plan.rampMs * (this.assignment.firstClientId + index)) /
          (this.plan.shard?.conns ?? this.plan.conns);
      if (!(await this.sleeper.until(rampStart))) return;
    }
    while (!signal.aborted) {
      // Only await when there is something to wait for: this loop is the hot path of every client.
      const backoff = client.reconnectDelay();
      if (backoff > 0 && !(await this.sleeper.until(performance.now() + backoff))) return;
      let intended: number | undefined;
      if (pacer && alarm) {
        intended = pacer.take(deadline);
        if (intended === undefined) return;
        if (intended > performance.now() && !(await alarm.until(intended))) return;
      } else {
        const think = client.thinkMs();
        if (think > 0 && !(await this.sleeper.until(performance.now() + think))) return;
      }
      if (performance.now() >= deadline || !this.claim(index)) return;
      await client.cycle(intended);
      // The loop is awake now: waits that came due meanwhile start without the pacing thread's message.
      alarm?.releaseDue();
    }
  }

  /** Runs every client until the deadline, the iterations, a stop message or --max-errors. */
  async run(t0Epoch: number): Promise<void> {
    this.t0 = t0Epoch - performance.timeOrigin;
    const deadline = this.plan.plannedEndMs !== null ? this.t0 + this.plan.plannedEndMs : Infinity;
    const pacer = this.assignment.rate
      ? new Pacer({
          start: this.t0,
          rampMs: pacerRampMs(this.plan),
          ratePerSec: this.assignment.rate,
          arrival: this.plan.arrival,
          // Workers' (and shards') first starts staggered across the whole plan's first interval.
          phase:
            ((this.plan.shard?.index ?? 0) + this.assignment.index / this.plan.workers) /
            (this.plan.shard?.count ?? 1),
          notBefore: performance.now(),
        })
      : undefined;
    const alarm = this.alarm;
    let reason: "deadline" | "iterations" | "stopped" = "stopped";
    const deadlineTimer =
      deadline < Infinity
        ? setTimeout(
            () => {
              reason = "deadline";
              this.stop.abort();
            },
            Math.max(0, deadline - performance.now()),
          )
        : undefined;
    this.scheduleTicks();
    await this.sleeper.until(this.t0);
    const loops = this.clients.map((c, i) => this.clientLoop(c, i, deadline, pacer, alarm));
    // Loops end on their own (iterations, deadline) or when stop aborts their sleeps; cycles in flight get a grace.
    const allDone = Promise.all(loops);
    await Promise.race([
      allDone.then(() => {
        if (this.stop.signal.aborted) return;
        const spent = this.plan.iterations !== undefined && this.started >= this.plan.iterations;
        reason = spent ? "iterations" : "deadline";
      }),
      new Promise<void>((r) => this.stop.signal.addEventListener("abort", () => r())),
    ]);
    this.stop.abort();
    clearTimeout(deadlineTimer);
    await Promise.race([allDone, new Promise((r) => setTimeout(r, STOP_GRACE_MS))]);
    if (pacer) this.rec.missed += pacer.missedBefore(Math.min(deadline, performance.now()));
    let abandoned = 0;
    for (const c of this.clients) {
      if (c.cutOff()) abandoned++;
      c.endOpenOutage();
    }
    this.seq++;
    await send({ type: "snapshot", snap: this.rec.snapshot(this.seq, this.elapsed(), true, abandoned) });
    await send({ type: "done", reason });
  }

  requestStop(): void {
    this.stop.abort();
  }

  async close(): Promise<void> {
    await Promise.race([
      Promise.all(this.clients.map((c) => c.close())),
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
  });
  await send(await worker.prepare());
  const start = await nextMessage("start");
  await worker.run(start.t0);
  await worker.close();
  process.exit(0);
}

main().catch(async (err: unknown) => {
  const e = err as { message?: string; exitCode?: number };
  await send({ type: "fatal", message: String(e?.message ?? err), exitCode: e?.exitCode ?? 1 });
  process.exit(1);
});
