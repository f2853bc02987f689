import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ServerInfo } from "../db/connect.js";
import { RunFailure, UsageError } from "../errors.js";
import { Aggregator, intervalErrors, type TimelineEntry } from "../metrics/aggregate.js";
import { warmUp } from "../metrics/histogram.js";
import { CONNECT, type Snapshot } from "../metrics/snapshot.js";
import { splitEvenly, type RunPlan } from "../plan.js";
import { pinnedFork, requireTaskset } from "./cpu-pin.js";
import type { Assignment, FromWorker, ToWorker } from "./protocol.js";

/**
 * V8's garbage collector runs on the worker's own thread: its parallel helper threads would compete with the
 * database for the same cores and cost more than they save (futex wake-ups, context switches). Measured on
 * the 2-core bench machine: select-only ceiling ≈ +15% throughput, −20% worker CPU per transaction.
 */
const WORKER_NODE_FLAGS = ["--single-threaded-gc"];

/**
 * The runner's Node flags, less code it was handed to evaluate (`node -e` / `-p`: fork leaves that out of
 * process.execArgv itself only when execArgv is not given), plus the workers' own flags unless given already.
 */
export function workerExecArgv(parent: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < parent.length; i++) {
    const a = parent[i];
    if (["-e", "--eval", "-p", "--print"].includes(a))
      i++; // and its code
    else if (!/^--(eval|print)=/.test(a)) out.push(a);
  }
  return [...out, ...WORKER_NODE_FLAGS.filter((f) => !out.includes(f))];
}
const WORKER_PATH = fileURLToPath(new URL("./worker.js", import.meta.url));
/** Time between "start" and the common t0, so that every worker begins together. */
const START_DELAY_MS = 200;
/** After "stop": how long workers get to send their last snapshot before they are killed. */
const STOP_TIMEOUT_MS = 2000;

export type StopReason = "duration" | "iterations" | "signal" | "max-errors" | "worker-died";

export interface WorkerReport {
  index: number;
  clients: number;
  connected: number;
  failed: number;
  exitCode: number | null;
  signal: string | null;
  died: boolean;
  cpuUserSec: number;
  cpuSystemSec: number;
  maxRssMb: number;
}

export interface RunOutcome {
  agg: Aggregator;
  startedAt: Date;
  endedAt: Date;
  partial: boolean;
  stopReason: StopReason;
  signal?: NodeJS.Signals;
  exitCode: number;
  workers: WorkerReport[];
  runner: { cpuUserSec: number; cpuSystemSec: number; maxRssMb: number };
}

export interface RunHooks {
  /** Called once with the common start t0 (epoch ms), e.g. to schedule faults. */
  onStart?(t0: number): void;
  /** Server-side samples to attach to each interval (the runner itself runs no SQL). */
  observe?(): Record<string, number> | undefined;
  onInterval?(entry: TimelineEntry, agg: Aggregator): void;
  onNotice?(line: string): void;
}

interface WorkerState {
  proc: ChildProcess;
  report: WorkerReport;
  ready: boolean;
  done: boolean;
  dead: boolean;
  finalSeq?: number;
  doneReason?: "deadline" | "iterations" | "stopped";
  last?: Snapshot;
}

/**
 * The runner: forks the workers, hands each its share over IPC, holds the start barrier, merges the
 * interval snapshots in order, and ends the run on its stop condition, a signal, --max-errors or a dead
 * worker — always returning what was measured so that the result can be written.
 */
export async function runPlan(plan: RunPlan, server: ServerInfo, hooks: RunHooks = {}): Promise<RunOutcome> {
  const taskset = plan.pin ? requireTaskset() : undefined;
  const agg = new Aggregator();
  const startedAt = new Date();
  const counts = splitEvenly(plan.conns, plan.workers);
  const states: WorkerState[] = [];
  const pending = new Map<number, Map<number, Snapshot>>();
  let nextSeq = 1;
  const plannedEndSec = plan.durationMs !== undefined ? (plan.rampMs + plan.durationMs) / 1000 : Infinity;
  /** Workers the runner itself had to kill (stop timeout, second signal): cut short, not crashed. */
  const killed = new Set<number>();
  let lastT = 0;
  let totalErrors = 0;
  let stopReason: StopReason | undefined;
  let signal: NodeJS.Signals | undefined;
  let stopping = false;
  let startedLoad = false;
  let fatal: { message: string; exitCode: number } | undefined;

  let settle!: () => void;
  const finished = new Promise<void>((resolve) => (settle = resolve));
  let readyResolve!: () => void;
  const allReady = new Promise<void>((resolve) => (readyResolve = resolve));

  const live = () => states.filter((s) => !s.dead && !s.done);
  const checkReady = () => {
    if (states.every((s) => s.ready || s.dead)) readyResolve();
  };
  const checkFinished = () => {
    if (startedLoad && live().length === 0) settle();
  };

  /** Merges interval nextSeq once every live worker sent it (or, with flush, whatever arrived). */
  const emitReady = (flush: boolean) => {
    for (;;) {
      const snaps = pending.get(nextSeq);
      if (!snaps) {
        if (flush && pending.size > 0) {
          nextSeq++;
          continue;
        }
        return;
      }
      const complete = states.every(
        (s) => s.dead || snaps.has(s.report.index) || (s.finalSeq !== undefined && s.finalSeq < nextSeq),
      );
      if (!complete && !flush) return;
      pending.delete(nextSeq);
      const list = [...snaps.values()];
      // Workers' clocks differ by a little: never let the timeline go back in time.
      const t = Math.max(lastT, ...list.map((s) => s.t));
      // The measured window ends at the planned end: cycles that finish in the grace time after it are
      // counted, but the drain does not stretch the window (rates would read low).
      const dt = Math.max(0, Math.min(t, plannedEndSec) - lastT);
      // Interval k nominally covers [(k-1)·I, k·I]: part of the ramp when it starts before the ramp ends.
      const ramp = (nextSeq - 1) * plan.intervalMs < plan.rampMs;
      const entry = agg.addInterval(nextSeq, +t.toFixed(3), +dt.toFixed(3), ramp, list);
      const observed = hooks.observe?.();
      if (observed) entry.observed = observed;
      lastT = t;
      nextSeq++;
      totalErrors += intervalErrors(entry.ops);
      hooks.onInterval?.(entry, agg);
      if (plan.maxErrors !== undefined && totalErrors > plan.maxErrors && !stopping) {
        hooks.onNotice?.(`stopping: ${totalErrors} errors exceed --max-errors ${plan.maxErrors}`);
        stopReason = "max-errors";
        stopAll();
      }
    }
  };

  const send = (s: WorkerState, msg: ToWorker) => {
    // A worker that has just died fails the write (EPIPE): its 'exit' tells the rest.
    if (!s.dead && s.proc.connected) s.proc.send(msg, (err) => void err);
  };

  function stopAll(): void {
    if (stopping) return;
    stopping = true;
    if (!startedLoad) {
      for (const s of states) {
        killed.add(s.report.index);
        s.proc.kill("SIGKILL");
      }
      return;
    }
    for (const s of live()) send(s, { type: "stop" });
    setTimeout(() => {
      for (const s of live()) {
        hooks.onNotice?.(`worker ${s.report.index} did not stop in time; killed`);
        killed.add(s.report.index);
        s.proc.kill("SIGKILL");
      }
    }, STOP_TIMEOUT_MS).unref();
  }

  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) {
      for (const s of states) {
        killed.add(s.report.index);
        s.proc.kill("SIGKILL");
      }
      return;
    }
    signal = sig;
    stopReason = "signal";
    hooks.onNotice?.(`${sig}: stopping the workers and writing the result`);
    stopAll();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let firstClient = 0;
  for (let index = 0; index < plan.workers; index++) {
    const assignment: Assignment = {
      index,
      clients: counts[index],
      firstClientId: firstClient,
      rate: plan.rate !== undefined ? (plan.rate * counts[index]) / plan.conns : undefined,
    };
    firstClient += counts[index];
    // Only the IPC channel carries the plan: nothing on argv, so no password in /proc/<pid>/cmdline.
    const cpu = plan.pin?.[index % plan.pin.length];
    const proc = fork(WORKER_PATH, [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      ...(cpu === undefined ? { execArgv: workerExecArgv() } : pinnedFork(cpu, taskset!, workerExecArgv())),
    });
    const state: WorkerState = {
      proc,
      ready: false,
      done: false,
      dead: false,
      report: {
        index,
        clients: counts[index],
        connected: 0,
        failed: 0,
        exitCode: null,
        signal: null,
        died: false,
        cpuUserSec: 0,
        cpuSystemSec: 0,
        maxRssMb: 0,
      },
    };
    states.push(state);
    proc.on("message", (msg: FromWorker) => {
      switch (msg.type) {
        case "ready":
          state.ready = true;
          state.report.connected = msg.connected;
          state.report.failed = msg.failed;
          agg.addUntimed(CONNECT, msg.connect);
          for (const sample of msg.samples) agg.addSample(sample);
          checkReady();
          break;
        case "snapshot": {
          state.last = msg.snap;
          agg.stalls.add(index, msg.snap);
          if (msg.snap.final) state.finalSeq = msg.snap.seq;
          let bySeq = pending.get(msg.snap.seq);
          if (!bySeq) pending.set(msg.snap.seq, (bySeq = new Map()));
          bySeq.set(index, msg.snap);
          emitReady(false);
          break;
        }
        case "done":
          state.done = true;
          state.doneReason = msg.reason;
          emitReady(false);
          checkFinished();
          break;
        case "fatal":
          // Before the start (a failing workload setup, say) the run cannot go on; after it, the exit
          // that follows is handled as a dead worker.
          if (!startedLoad) fatal ??= { message: `worker ${index}: ${msg.message}`, exitCode: msg.exitCode };
          else hooks.onNotice?.(`worker ${index}: ${msg.message}`);
          break;
      }
    });
    // It could not be started at all (its executable missing…): 'exit' may never come.
    proc.on("error", (err) => {
      if (state.ready || state.dead) return;
      fatal ??= { message: `worker ${index} could not start: ${err.message}`, exitCode: 1 };
      state.dead = true;
      checkReady();
      checkFinished();
    });
    proc.on("exit", (code, sig) => {
      state.report.exitCode = code;
      state.report.signal = sig;
      if (!state.ready && !startedLoad && !stopping) {
        // Before "ready" (taskset could not pin it, Node could not start it…): its own stderr says why.
        fatal ??= {
          message: `worker ${index} exited (${sig ?? `code ${code}`}) before it was ready`,
          exitCode: 1,
        };
      }
      if (!state.done) {
        state.dead = true;
        state.report.died = !killed.has(index);
        if (startedLoad && (!stopping || sig !== "SIGKILL")) {
          hooks.onNotice?.(`worker ${index} died (${sig ?? `exit ${code}`})`);
        }
        emitReady(false);
      }
      checkReady();
      checkFinished();
    });
    send(state, { type: "init", plan, server, assignment });
  }

  // While the workers connect: the first interval's merge is not cold (see warmUp).
  warmUp();
  await allReady;
  const connected = states.reduce((n, s) => n + s.report.connected, 0);
  if (!stopping && (fatal || connected === 0)) {
    stopAll();
    const sample = agg.errorSamples()[0];
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (fatal) throw fatal.exitCode === 2 ? new UsageError(fatal.message) : new RunFailure(fatal.message);
    throw new RunFailure(`no client could connect${sample ? `: ${sample.message}` : ""}`);
  }
  if (!stopping) {
    const failed = states.reduce((n, s) => n + s.report.failed, 0);
    if (failed > 0)
      hooks.onNotice?.(`${failed} of ${plan.conns} clients could not connect; they keep retrying`);
    startedLoad = true;
    const t0 = Date.now() + START_DELAY_MS;
    for (const s of states) send(s, { type: "start", t0 });
    hooks.onStart?.(t0);
    checkFinished();
    await finished;
  }

  emitReady(true);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  // No orphans: wait briefly for every worker to exit, then make sure.
  await Promise.all(
    states.map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.proc.exitCode !== null || s.proc.signalCode !== null) return resolve();
          const timer = setTimeout(() => s.proc.kill("SIGKILL"), 1500);
          s.proc.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    ),
  );

  for (const s of states) {
    if (!s.last) continue;
    s.report.cpuUserSec = s.last.cpu.user / 1e6;
    s.report.cpuSystemSec = s.last.cpu.system / 1e6;
    s.report.maxRssMb = s.last.maxRssKb / 1024;
  }
  const anyDied = states.some((s) => s.report.died);
  const reasons = new Set(states.map((s) => s.doneReason));
  stopReason ??= anyDied ? "worker-died" : reasons.has("deadline") ? "duration" : "iterations";
  const plannedEnd = plan.durationMs !== undefined || plan.iterations !== undefined;
  const partial =
    anyDied ||
    states.some((s) => s.dead) ||
    stopReason === "max-errors" ||
    (stopReason === "signal" && plannedEnd);
  let exitCode = 0;
  if (anyDied || stopReason === "max-errors") exitCode = 1;
  else if (stopReason === "signal" && plannedEnd) exitCode = signal === "SIGTERM" ? 143 : 130;
  const cpu = process.cpuUsage();
  return {
    agg,
    startedAt,
    endedAt: new Date(),
    partial,
    stopReason,
    signal,
    exitCode,
    workers: states.map((s) => s.report),
    runner: {
      cpuUserSec: cpu.user / 1e6,
      cpuSystemSec: cpu.system / 1e6,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
    },
  };
}
