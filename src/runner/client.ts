import { performance } from "node:perf_hooks";
import pg from "pg";
import type { ClientContext, Dialect, Workload } from "../api.js";
import { classifyError, type ClassifiedError } from "../db/errors.js";
import { LeanClient } from "../db/lean-client.js";
import { withReadSocket } from "../db/read-socket.js";
import { PgSession, viaPg } from "../db/session.js";
import type { IntervalRecorder, OpBook } from "../metrics/recorder.js";
import { OutageTracker } from "../metrics/outages.js";
import type { Driver, QueryMode } from "../schema/plan.js";
import { CONNECT, CYCLE, LAG } from "../schema/measures.js";
import type { CycleWindow } from "./window.js";

const RECONNECT_BASE_MS = 100;
const RECONNECT_CAP_MS = 2000;

export interface ClientOptions {
  config: pg.ClientConfig;
  dialect: Dialect;
  queryMode: QueryMode;
  connectPerTxn: boolean;
  /** --wait-events: each op's statements carry its name (a comment) for the server's samples. */
  tagOps: boolean;
  driver: Driver;
  workload: Workload;
  ctx: ClientContext;
  /** Seconds since the common start (negative before it). */
  clock(): number;
  /** The same, for a performance.now() reading already taken. */
  since(ms: number): number;
  /** Which cycles belong to the measured window, and how many of them are running. */
  window: CycleWindow;
}

export type ConnectAttempt = { connected: true } | { connected: false; error: ClassifiedError };

/**
 * One benchmark client: its connection (held for the run, or per cycle with --connect-per-txn), its
 * reconnects with capped exponential backoff, and the timing of each op and cycle.
 */
export class BenchClient {
  private client: pg.Client | undefined;
  private session: PgSession | undefined;
  private currentOp = "";
  private failures = 0;
  private nextConnectAt = 0;
  private readonly outages: OutageTracker;
  /** Whether a connection ever succeeded: a later one is a reconnect. */
  private everConnected = false;
  private inOp = false;
  private setupDone = false;
  /** The running cycle's start (intended start in open loop), for a cycle cut off at the end. */
  private cycleFrom: number | undefined;
  /** Where the running cycle's measurements go (the window's book when it started in the window). */
  private book: OpBook;
  private inWindow = false;

  constructor(
    private readonly opts: ClientOptions,
    private rec: IntervalRecorder,
  ) {
    this.outages = new OutageTracker(opts.ctx.clientId, (o) => this.rec.outage(o));
    this.book = rec.outside;
  }

  /** Later snapshots go to another recorder (the initial connections are kept apart from the intervals). */
  useRecorder(rec: IntervalRecorder): void {
    this.rec = rec;
    this.book = rec.outside;
  }

  private failed(e: ClassifiedError): void {
    this.outages.failed(this.opts.clock(), e.ambiguous === true);
  }

  /**
   * At the very end: a cycle still running is left unrecorded (its latency is unknown). Returns whether there was
   * one, and whether it belonged to the window.
   */
  cutOff(): "window" | "other" | undefined {
    if (this.cycleFrom === undefined) return undefined;
    this.cycleFrom = undefined;
    return this.inWindow ? "window" : "other";
  }

  /** An outage still open at the end: reported with no end, so that it is never lost. */
  endOpenOutage(): void {
    this.outages.endOpen();
  }

  /**
   * Opens the connection, timing it as __connect__. A failure is counted, and the next attempt put off with
   * capped exponential backoff.
   */
  async tryConnect(): Promise<ConnectAttempt> {
    // The lean path reads the socket itself, so its reads can skip Node's stream machinery (plain TCP).
    const client = new pg.Client(
      this.opts.driver === "pg" ? this.opts.config : withReadSocket(this.opts.config),
    );
    client.on("error", (err) => {
      if (this.client !== client) return;
      // Lost while idle (between ops): a connection error all the same; replaced before the next cycle.
      // (During an op, the op itself fails and is counted there.)
      if (!this.inOp) {
        const e = classifyError(err);
        this.rec.error(this.rec.book(this.opts.window.phaseOf(performance.now()) === "window"), CONNECT, e);
        this.failed(e);
      }
      this.drop();
    });
    const t = performance.now();
    try {
      await client.connect();
    } catch (err) {
      client.end().catch(() => {});
      // Whatever the server said (too many connections, shutting down…), failing to connect is a connection error.
      const e: ClassifiedError = { ...classifyError(err), cls: "connection" };
      this.rec.error(this.book, CONNECT, e);
      this.failed(e);
      this.failures++;
      this.nextConnectAt =
        performance.now() + Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** (this.failures - 1));
      return { connected: false, error: e };
    }
    this.book.latency(CONNECT, (performance.now() - t) * 1000);
    this.failures = 0;
    this.client = client;
    const queryable = this.opts.driver === "pg" ? viaPg(client) : new LeanClient(client);
    this.session = new PgSession(queryable, this.opts.dialect, this.opts.queryMode, {
      onRetry: () => this.book.retry(this.currentOp),
    });
    this.everConnected = true;
    return { connected: true };
  }

  /**
   * The workload's per-client setup (not timed), once, on the first connection that succeeds: before the
   * start for most clients, at the first successful reconnect for one that could not connect then.
   */
  async setup(): Promise<void> {
    if (this.setupDone || !this.session) return;
    await this.opts.workload.setup?.(this.session, this.opts.ctx);
    this.setupDone = true;
  }

  /** The workload's closed-loop think time before the next cycle, in ms. */
  thinkMs(): number {
    return this.opts.workload.think?.(this.opts.ctx) ?? 0;
  }

  /** Milliseconds until a reconnect may be tried (0 when connected or due). */
  reconnectDelay(): number {
    return this.session ? 0 : Math.max(0, this.nextConnectAt - performance.now());
  }

  private drop(): void {
    const c = this.client;
    this.client = undefined;
    this.session = undefined;
    c?.end().catch(() => {});
  }

  /**
   * Runs one cycle. `intended` (performance.now() ms) is the open-loop intended start: the cycle's latency
   * runs from it, so time spent waiting for this client is counted; its service time is kept too.
   * One async function on the hot path (connecting, when needed, is another).
   */
  async cycle(intended?: number): Promise<void> {
    const begin = performance.now();
    const rec = this.rec;
    // A cycle belongs to the phase of its start: the intended one in open loop.
    const window = this.opts.window;
    const inWindow = window.phaseOf(intended ?? begin) === "window";
    const book = rec.book(inWindow);
    this.book = book;
    this.inWindow = inWindow;
    if (inWindow) window.began();
    this.cycleFrom = intended ?? begin;
    rec.cycleStarted(this.opts.since(begin));
    if (intended !== undefined) book.latency(LAG, (begin - intended) * 1000);
    let ok = false;
    let end = begin;
    try {
      // A reconnect is not part of the cycle's time (unless every cycle connects: --connect-per-txn).
      const reconnected = !this.session;
      if (reconnected && !(await this.reconnect())) return;
      const session = this.session!;
      const start = reconnected && !this.opts.connectPerTxn ? performance.now() : begin;
      end = start;
      for (const op of this.opts.workload.cycle(this.opts.ctx)) {
        if ("skip" in op) {
          book.skip(op.name);
          continue;
        }
        this.currentOp = op.name;
        if (this.opts.tagOps) session.setOp(op.name);
        this.inOp = true;
        const t = performance.now();
        try {
          await op.run(session);
        } catch (err) {
          this.opFailed(op.name, err);
          return;
        } finally {
          this.inOp = false;
        }
        end = performance.now();
        book.latency(op.name, (end - t) * 1000);
      }
      // A cycle whose ops were all skipped ends now, not at its start.
      if (end === start) end = performance.now();
      book.latency(CYCLE, (end - (intended ?? start)) * 1000);
      if (intended !== undefined) book.serviceTime(CYCLE, (end - start) * 1000);
      ok = true;
    } finally {
      // A cycle cut off at the end (its cutOff() came first) is not counted again.
      if (inWindow && this.cycleFrom !== undefined) window.ended(ok ? end : performance.now(), rec);
      this.cycleFrom = undefined;
      if (this.opts.connectPerTxn) this.drop();
      // One clock reading for both kinds of availability bookkeeping: the client's outage, the worker's stalls
      // (the cycle's end when it ran to completion).
      const now = ok ? this.opts.since(end) : this.opts.clock();
      if (ok) this.outages.succeeded(now);
      rec.cycleEnded(now, ok);
    }
  }

  /** A failed op: counted for the op and the cycle, and the connection dropped when it is broken. */
  private opFailed(name: string, err: unknown): void {
    const e = classifyError(err);
    this.rec.error(this.book, name, e);
    this.rec.error(this.book, CYCLE, e, false);
    this.failed(e);
    if (e.broken) this.drop();
  }

  /** Before a cycle, with no connection: connects (and runs the setup once); false when the cycle cannot run. */
  private async reconnect(): Promise<boolean> {
    const wasConnected = this.everConnected;
    const attempt = await this.tryConnect();
    if (!attempt.connected) {
      // The cycle could not run: a failed cycle, so that error rates see it (and an open-loop start is not lost).
      this.rec.error(this.book, CYCLE, attempt.error, false);
      return false;
    }
    if (wasConnected && !this.opts.connectPerTxn) this.rec.reconnect();
    if (this.setupDone) return true;
    try {
      await this.setup();
      return true;
    } catch (err) {
      const e = classifyError(err);
      this.rec.error(this.book, CYCLE, e);
      this.failed(e);
      this.drop();
      return false;
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    this.session = undefined;
    if (c) await c.end().catch(() => {});
  }
}
