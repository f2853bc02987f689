import pg from "pg";
import pLimit from "p-limit";
import { connectOrClose } from "../db/connect.js";

/** Idle connections opening at the same time, per worker: as the workload's clients do. */
const CONNECT_CONCURRENCY = 32;

/** What a worker's idle connections did, for the result's `idle`. */
export interface IdleReport {
  connected: number;
  failed: number;
  /** Open when the load ended. */
  heldAtEnd: number;
  queries: number;
  errors: number;
}

/**
 * --idle-conns: connections held through the run's target beside the workload's clients, the swarm of mostly
 * idle sessions that many services with a pool each leave on a database. Each sends `SELECT 1` every
 * --idle-every (if given) from a random phase; nothing they do is timed or counted with the workload's ops.
 * One that is lost is opened again at its next query.
 */
export class IdleConnections {
  private readonly clients: Array<pg.Client | undefined>;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly report: IdleReport = { connected: 0, failed: 0, heldAtEnd: 0, queries: 0, errors: 0 };
  private stopped = false;

  constructor(
    private readonly config: pg.ClientConfig,
    count: number,
    private readonly everyMs: number | undefined,
  ) {
    this.clients = new Array<pg.Client | undefined>(count).fill(undefined);
  }

  private async open(i: number): Promise<boolean> {
    const client = new pg.Client(this.config);
    client.on("error", () => {
      if (this.clients[i] === client) this.clients[i] = undefined;
    });
    try {
      await connectOrClose(
        client,
        typeof this.config.password === "string" ? this.config.password : undefined,
      );
      this.clients[i] = client;
      return true;
    } catch {
      return false;
    }
  }

  /** Opens every one of them (before the load starts). */
  async connect(): Promise<void> {
    const limit = pLimit(CONNECT_CONCURRENCY);
    const ok = await Promise.all(this.clients.map((_, i) => limit(() => this.open(i))));
    this.report.connected = ok.filter(Boolean).length;
    this.report.failed = ok.length - this.report.connected;
  }

  /** With --idle-every: each one's query, from a random phase so that they do not arrive together. */
  start(): void {
    const every = this.everyMs;
    if (every === undefined) return;
    this.clients.forEach((_, i) => {
      const first = setTimeout(() => {
        void this.ping(i);
        this.timers.push(setInterval(() => void this.ping(i), every));
      }, Math.random() * every);
      this.timers.push(first);
    });
  }

  private async ping(i: number): Promise<void> {
    if (this.stopped) return;
    if (!this.clients[i] && !(await this.open(i))) {
      this.report.errors++;
      return;
    }
    try {
      await this.clients[i]!.query("SELECT 1");
      this.report.queries++;
    } catch {
      this.report.errors++;
    }
  }

  /** The load has ended: no more queries; what they did. */
  stop(): IdleReport {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.report.heldAtEnd = this.clients.filter((c) => c !== undefined).length;
    return { ...this.report };
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c?.end().catch(() => {})));
  }
}
