import type pg from "pg";
import type { Dialect, QueryResult, Session } from "../api.js";
import { AmbiguousCommitError, classifyError, isRetryable } from "./errors.js";
import { readPages } from "./cursor-read.js";
import { PSYCOPG_PREPARE_THRESHOLD, queryConfig } from "./query-mode.js";
import type { QueryMode } from "../schema/plan.js";

export interface RetryPolicy {
  /** Attempts after the first. */
  maxRetries: number;
  baseMs: number;
  capMs: number;
}

/** The seed's policy: up to 5 retries, 50 ms × 2^n. */
export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 5, baseMs: 50, capMs: 2000 };

export interface SessionHooks {
  /** Called once for every transaction attempt that is retried. */
  onRetry(): void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * What a session runs its statements on: the benchmark's lean path on a pg connection, or a pg client
 * (`viaPg`). One result per call: for several statements in one simple-protocol string, the last one's.
 */
export interface Queryable {
  query(config: string | { text: string; values?: unknown[]; name?: string }): Promise<QueryResult>;
  /** Runs `fn` with the connection's pg Client in charge of it (for pg-cursor). */
  lend<T>(fn: (client: pg.Client) => Promise<T>): Promise<T>;
}

type PgResult = { rows: unknown[]; rowCount: number | null };

/** The last result, as psql shows it; pg gives an array when one string held several statements. */
function lastResult(out: PgResult | PgResult[]): QueryResult {
  const res = Array.isArray(out) ? out[out.length - 1] : out;
  return res
    ? { rows: res.rows as QueryResult["rows"], rowCount: res.rowCount ?? 0 }
    : { rows: [], rowCount: 0 };
}

/** A pg client as a Queryable: pg's own query path (`--driver pg`, `check`). */
export function viaPg(client: pg.Client): Queryable {
  return {
    query: (config) =>
      (client.query(config as pg.QueryConfig) as Promise<PgResult | PgResult[]>).then(lastResult),
    lend: (fn) => fn(client),
  };
}

const NO_PARAMS: unknown[] = [];
const MAX_COUNTED = 1000;

/** The comment that names a statement's op (--wait-events), read back from pg_stat_activity.query. */
export const OP_TAG_PREFIX = "/*op:";

/** An op's name as a tag: nothing that could end the comment or need quoting. */
export function opTag(op: string): string {
  return `${OP_TAG_PREFIX}${op.replace(/[^\w.-]/g, "_")}*/ `;
}

/** The Session a workload is handed: one connection, a query mode, and the harness's transaction helper. */
export class PgSession implements Session {
  private inTransaction = false;
  /** psycopg mode: how often each statement has run on this connection. */
  private readonly runs = new Map<string, number>();
  /** With --wait-events: the running op's tag, put before every statement the op sends. */
  private tag = "";

  constructor(
    private readonly client: Queryable,
    readonly dialect: Dialect,
    private readonly mode: QueryMode,
    private readonly hooks: SessionHooks,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {}

  /** Names the op whose statements follow (--wait-events: the server's samples then say which op waited). */
  setOp(name: string): void {
    this.tag = opTag(name);
  }

  /** Not async: the Queryable's own promise goes back to the workload (one promise per statement). */
  query<R = Record<string, unknown>>(sql: string, params: unknown[] = NO_PARAMS): Promise<QueryResult<R>> {
    try {
      const text = this.tag + sql;
      return this.client.query(queryConfig(this.modeFor(text), text, params)) as Promise<QueryResult<R>>;
    } catch (err) {
      // A value that cannot be sent (say, a circular object): a rejection, as from an async function.
      return Promise.reject(err as Error);
    }
  }

  /** The protocol for this statement: in psycopg mode, prepared from the run after the threshold on. */
  private modeFor(sql: string): Exclude<QueryMode, "psycopg"> {
    if (this.mode !== "psycopg") return this.mode;
    const n = this.runs.get(sql) ?? 0;
    if (n >= PSYCOPG_PREPARE_THRESHOLD) return "prepared";
    // A workload that builds its SQL text per call would otherwise grow this map without end.
    if (n > 0 || this.runs.size < MAX_COUNTED) this.runs.set(sql, n + 1);
    return "extended";
  }

  readPages<R = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[],
    pageSize: number,
    onPage?: (rows: R[]) => void,
  ): Promise<number> {
    return this.client.lend((client) => readPages(client, sql, params, pageSize, onPage));
  }

  sleep(ms: number): Promise<void> {
    return sleep(ms);
  }

  async transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this); // nested: part of the outer transaction
    for (let attempt = 0; ; attempt++) {
      this.inTransaction = true;
      try {
        await this.client.query(this.tag + "BEGIN");
        const result = await fn(this);
        try {
          await this.client.query(this.tag + "COMMIT");
        } catch (err) {
          // Lost during COMMIT: it may have committed. Never retried; counted apart as ambiguous.
          if (classifyError(err).cls === "connection") throw new AmbiguousCommitError(err);
          throw err;
        }
        return result;
      } catch (err) {
        if (err instanceof AmbiguousCommitError) throw err;
        await this.client.query(this.tag + "ROLLBACK").catch(() => {});
        if (!isRetryable(err) || attempt >= this.retry.maxRetries) throw err;
        this.hooks.onRetry();
        await sleep(Math.min(this.retry.capMs, this.retry.baseMs * 2 ** attempt));
      } finally {
        this.inTransaction = false;
      }
    }
  }
}
