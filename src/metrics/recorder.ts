import type { ClassifiedError } from "../db/errors.js";
import { countsOf, newHistogram, record, type Histogram } from "./histogram.js";
import { type OpSnapshot, type Snapshot, type Stall } from "./snapshot.js";
import { STALL_MIN_SEC, type ErrorClass, type ErrorSample, type Outage } from "../schema/measures.js";

const MAX_SAMPLES_PER_INTERVAL = 5;

class OpAccumulator {
  hist: Histogram | undefined;
  service: Histogram | undefined;
  count = 0;
  errors: Partial<Record<ErrorClass, number>> = {};
  sqlstates: Record<string, number> = {};
  skipped = 0;
  retries = 0;
  ambiguous = 0;

  latency(us: number): void {
    record((this.hist ??= newHistogram()), us);
    this.count++;
  }

  serviceTime(us: number): void {
    record((this.service ??= newHistogram()), us);
  }

  takeSnapshot(): OpSnapshot {
    const snap: OpSnapshot = {
      count: this.count,
      hist: this.count > 0 && this.hist ? countsOf(this.hist) : undefined,
      service: this.service && this.service.totalCount > 0 ? countsOf(this.service) : undefined,
      errors: this.errors,
      sqlstates: this.sqlstates,
      skipped: this.skipped,
      retries: this.retries,
      ambiguous: this.ambiguous || undefined,
    };
    this.hist?.reset();
    this.service?.reset();
    this.count = 0;
    this.errors = {};
    this.sqlstates = {};
    this.skipped = 0;
    this.retries = 0;
    this.ambiguous = 0;
    return snap;
  }

  get idle(): boolean {
    return (
      this.count === 0 && this.skipped === 0 && this.retries === 0 && Object.keys(this.errors).length === 0
    );
  }
}

/** One phase's ops over one interval: the window's, or everything outside it (warm-up, after the end). */
export class OpBook {
  private readonly ops = new Map<string, OpAccumulator>();

  private op(name: string): OpAccumulator {
    let acc = this.ops.get(name);
    if (!acc) {
      acc = new OpAccumulator();
      this.ops.set(name, acc);
    }
    return acc;
  }

  latency(name: string, us: number): void {
    this.op(name).latency(us);
  }

  serviceTime(name: string, us: number): void {
    this.op(name).serviceTime(us);
  }

  skip(name: string): void {
    this.op(name).skipped++;
  }

  retry(name: string): void {
    this.op(name).retries++;
  }

  /** Counts a failed op (the recorder keeps the message samples). */
  error(name: string, e: ClassifiedError): void {
    const acc = this.op(name);
    acc.errors[e.cls] = (acc.errors[e.cls] ?? 0) + 1;
    if (e.sqlstate) acc.sqlstates[e.sqlstate] = (acc.sqlstates[e.sqlstate] ?? 0) + 1;
    if (e.ambiguous) acc.ambiguous++;
  }

  /** Hands over the interval's ops and starts the next. */
  take(): Record<string, OpSnapshot> {
    const ops: Record<string, OpSnapshot> = {};
    for (const [name, acc] of this.ops) if (!acc.idle) ops[name] = acc.takeSnapshot();
    return ops;
  }
}

/**
 * A worker's interval recorder: per-op HDR histograms and counters for the current interval only, kept apart
 * for cycles of the measured window (by their start) and the rest. The runner owns the totals; `snapshot()`
 * hands over the interval and starts the next.
 */
export class IntervalRecorder {
  readonly window = new OpBook();
  readonly outside = new OpBook();
  private samples: ErrorSample[] = [];
  private outages: Outage[] = [];
  private silences: Stall[] = [];
  private stalls: Stall[] = [];
  private freezes: Stall[] = [];
  /** The worker's last successful cycle (seconds since t0; the start until there is one). */
  private lastSuccess = 0;
  /** Cycles under way, and since when some cycle has been waiting for a success (undefined: none). */
  private inFlight = 0;
  private waitingSince: number | undefined;
  private reconnects = 0;
  missed = 0;
  /** Cycles of the window that ended after its end. */
  drained = 0;

  /** The book a cycle's measurements go to: the window's when the cycle started in it. */
  book(inWindow: boolean): OpBook {
    return inWindow ? this.window : this.outside;
  }

  outage(o: Outage): void {
    this.outages.push(o);
  }

  /** The worker's event loop did not run from `from` to `to` (seconds since t0). */
  freeze(f: Stall): void {
    this.freezes.push(f);
  }

  /** A cycle (or an attempt to connect for one) began at `t`, seconds since t0. */
  cycleStarted(t: number): void {
    this.inFlight++;
    this.waitingSince ??= t;
  }

  /** A cycle ended at `t`; a success closes the silence, and the stall, before it when they were long enough. */
  cycleEnded(t: number, ok: boolean): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (!ok) return;
    if (t - this.lastSuccess >= STALL_MIN_SEC) this.silences.push({ from: this.lastSuccess, to: t });
    if (this.waitingSince !== undefined && t - this.waitingSince >= STALL_MIN_SEC) {
      this.stalls.push({ from: this.waitingSince, to: t });
    }
    // Cycles still under way are waiting from now on.
    this.waitingSince = this.inFlight > 0 ? t : undefined;
    this.lastSuccess = Math.max(this.lastSuccess, t);
  }

  reconnect(): void {
    this.reconnects++;
  }

  /** Counts a failed op in `book`; `sample` false for a second count of the same failure (the cycle's). */
  error(book: OpBook, name: string, e: ClassifiedError, sample = true): void {
    book.error(name, e);
    if (sample && this.samples.length < MAX_SAMPLES_PER_INTERVAL) {
      this.samples.push({ op: name, cls: e.cls, sqlstate: e.sqlstate, message: e.message.slice(0, 300) });
    }
  }

  snapshot(seq: number, t: number, final: boolean, end?: Snapshot["end"]): Snapshot {
    // At the end, a silence (or stall) still running is reported open.
    if (final && t - this.lastSuccess >= STALL_MIN_SEC) {
      this.silences.push({ from: this.lastSuccess, to: t, open: true });
    }
    if (final && this.waitingSince !== undefined && t - this.waitingSince >= STALL_MIN_SEC) {
      this.stalls.push({ from: this.waitingSince, to: t, open: true });
    }
    const cpu = process.cpuUsage();
    const snap: Snapshot = {
      seq,
      final,
      t,
      ops: this.window.take(),
      outside: this.outside.take(),
      reconnects: this.reconnects,
      missed: this.missed,
      drained: this.drained,
      samples: this.samples,
      outages: this.outages,
      silences: this.silences,
      stalls: this.stalls,
      freezes: this.freezes,
      cpu: { user: cpu.user, system: cpu.system },
      maxRssKb: process.resourceUsage().maxRSS,
      ...(end ? { end } : {}),
    };
    this.samples = [];
    this.outages = [];
    this.silences = [];
    this.stalls = [];
    this.freezes = [];
    this.reconnects = 0;
    this.missed = 0;
    this.drained = 0;
    return snap;
  }
}
