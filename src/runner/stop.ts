import type { WorkerHandle } from "./worker-handle.js";

/** After "stop": how long workers get to send their last snapshot before they are killed. */
const STOP_TIMEOUT_MS = 2000;

export type StopRequest = { reason: "signal"; signal: NodeJS.Signals } | { reason: "max-errors" };

/**
 * Stopping the workers, once: before the load has started they are killed at once (nothing to measure);
 * after it, each is told to stop and send its last snapshot, and killed if it has not ended in time. A
 * second signal kills them all.
 */
export class StopControl {
  stopping = false;
  request: StopRequest | undefined;

  constructor(
    private readonly workers: readonly WorkerHandle[],
    private readonly loadStarted: () => boolean,
    private readonly notice: (line: string) => void,
  ) {}

  /** A stop for a reason of the runner's (a signal, --max-errors); the first reason given is kept. */
  requestStop(request: StopRequest): void {
    this.request ??= request;
    this.stopAll();
  }

  signal(sig: NodeJS.Signals): void {
    if (this.stopping) {
      for (const w of this.workers) w.kill();
      return;
    }
    this.notice(`${sig}: stopping the workers and writing the result`);
    this.requestStop({ reason: "signal", signal: sig });
  }

  stopAll(): void {
    if (this.stopping) return;
    this.stopping = true;
    if (!this.loadStarted()) {
      for (const w of this.workers) w.kill();
      return;
    }
    for (const w of this.workers) if (w.live) w.send({ type: "stop" });
    setTimeout(() => {
      for (const w of this.workers) {
        if (!w.live) continue;
        this.notice(`worker ${w.index} did not stop in time; killed`);
        w.kill();
      }
    }, STOP_TIMEOUT_MS).unref();
  }
}

/** --max-errors: counts the errors of each merged interval; true once they exceed the budget. */
export class ErrorBudget {
  private total = 0;

  constructor(private readonly max: number | undefined) {}

  add(errors: number): boolean {
    this.total += errors;
    return this.max !== undefined && this.total > this.max;
  }

  get errors(): number {
    return this.total;
  }
}
