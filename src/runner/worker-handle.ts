import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Snapshot } from "../metrics/snapshot.js";
import type { WorkerResources } from "../schema/result.js";
import { pinnedFork } from "./cpu-pin.js";
import type { FromWorker, ToWorker } from "./protocol.js";
import type { IdleReport } from "./idle-conns.js";
import type { Share } from "../plan.js";

/**
 * V8's garbage collector runs on the worker's own thread: its parallel helper threads would compete with the
 * database for the same cores and cost more than they save (BENCHMARKS.md, "Measurements behind choices").
 */
const WORKER_NODE_FLAGS = ["--single-threaded-gc"];
const WORKER_PATH = fileURLToPath(new URL("./worker.js", import.meta.url));

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

export type DoneReason = Extract<FromWorker, { type: "done" }>["reason"];

export interface WorkerReport extends WorkerResources {
  connected: number;
  failed: number;
  /** Its --idle-conns, when it had any. */
  idle?: IdleReport;
}

/** What the runner hears from one worker process. */
export interface WorkerListener {
  message(w: WorkerHandle, msg: FromWorker): void;
  /** It could not be started at all (its executable missing…): 'exit' may never come. */
  startFailed(w: WorkerHandle, err: Error): void;
  exit(w: WorkerHandle, code: number | null, signal: NodeJS.Signals | null): void;
}

/**
 * One forked worker process and what the runner knows of it. Only the IPC channel carries the plan: nothing
 * on argv, so no password in /proc/<pid>/cmdline.
 */
export class WorkerHandle {
  readonly proc: ChildProcess;
  readonly report: WorkerReport;
  ready = false;
  done = false;
  dead = false;
  /** The runner killed it (stop timeout, second signal, failed start): cut short, not crashed. */
  killedByRunner = false;
  finalSeq: number | undefined;
  doneReason: DoneReason | undefined;
  last: Snapshot | undefined;

  constructor(
    readonly assignment: Share,
    listener: WorkerListener,
    pin?: { cpu: number; taskset: string },
  ) {
    this.report = {
      index: assignment.index,
      clients: assignment.clients,
      connected: 0,
      failed: 0,
      exitCode: null,
      signal: null,
      died: false,
      cpuUserSec: 0,
      cpuSystemSec: 0,
      maxRssMb: 0,
    };
    this.proc = fork(WORKER_PATH, [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      ...(pin ? pinnedFork(pin.cpu, pin.taskset, workerExecArgv()) : { execArgv: workerExecArgv() }),
    });
    this.proc.on("message", (msg: FromWorker) => listener.message(this, msg));
    this.proc.on("error", (err) => listener.startFailed(this, err));
    this.proc.on("exit", (code, sig) => {
      this.report.exitCode = code;
      this.report.signal = sig;
      listener.exit(this, code, sig);
    });
  }

  get index(): number {
    return this.assignment.index;
  }

  /** Still running its clients: neither dead nor done. */
  get live(): boolean {
    return !this.dead && !this.done;
  }

  send(msg: ToWorker): void {
    // A worker that has just died fails the write (EPIPE): its 'exit' tells the rest.
    if (!this.dead && this.proc.connected) this.proc.send(msg, (err) => void err);
  }

  kill(): void {
    this.killedByRunner = true;
    this.proc.kill("SIGKILL");
  }

  /** Resolves once the process has exited; killed after `graceMs` if it has not. No orphans. */
  exited(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) return resolve();
      const timer = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
      this.proc.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Its clients connected (or failed to): it waits for the start. */
  markReady(msg: Extract<FromWorker, { type: "ready" }>): void {
    this.ready = true;
    this.report.connected = msg.connected;
    this.report.failed = msg.failed;
  }

  /** An interval's snapshot arrived; the final one says which interval is its last. */
  noteSnapshot(snap: Snapshot): void {
    this.last = snap;
    if (snap.final) this.finalSeq = snap.seq;
  }

  markDone(reason: DoneReason, idle?: IdleReport): void {
    this.done = true;
    this.doneReason = reason;
    if (idle) this.report.idle = idle;
  }

  /**
   * It ended without saying it was done, or never started: dead. It died (crashed) unless the runner killed
   * it; one that never started is not counted as died (the run fails before it begins).
   */
  markDead(started = true): void {
    this.dead = true;
    this.report.died = started && !this.killedByRunner;
  }

  /** CPU and peak memory as its last snapshot reported them. */
  takeResources(): void {
    if (!this.last) return;
    this.report.cpuUserSec = this.last.cpu.user / 1e6;
    this.report.cpuSystemSec = this.last.cpu.system / 1e6;
    this.report.maxRssMb = this.last.maxRssKb / 1024;
  }
}
