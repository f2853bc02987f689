import type { KnobValue, Knobs } from "./schema/plan.js";
import type { Dialect } from "./schema/result.js";
/**
 * The workload API: what a workload module exports and what it is handed. Workloads import only this file.
 * The harness, not the workload, measures, retries, reconnects and counts.
 */

// Types of the result file that workloads also see: re-exported so that workloads import only this file.
export type { Dialect, KnobValue, Knobs };

/** One statement's result, as much of it as workloads need. */
export interface QueryResult<R = Record<string, unknown>> {
  rows: R[];
  rowCount: number;
}

/** A client's connection, as a workload sees it. Query mode and retries are the harness's business. */
export interface Session {
  readonly dialect: Dialect;
  /** Runs one statement; `$1, $2, …` placeholders bind `params`. */
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
  /**
   * Runs `fn` inside BEGIN … COMMIT. On a serialization failure (40001, CockroachDB's restart errors) or a
   * deadlock (40P01) the harness rolls back, backs off and runs `fn` again: `fn` must be safe to repeat.
   */
  transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T>;
  /**
   * Reads a query's rows through a cursor (pg-cursor), `pageSize` rows per round trip, handing each page to
   * `onPage`; resolves to the number of rows read. Always the extended protocol, whatever the query mode. Outside
   * a transaction the portal lives until its last page, so through a transaction pooler the read holds one server
   * connection until then, as a transaction would.
   */
  readPages<R = Record<string, unknown>>(
    sql: string,
    params: readonly unknown[],
    pageSize: number,
    onPage?: (rows: R[]) => void,
  ): Promise<number>;
  /** App think time (e.g. inside a transaction). Part of the op's latency, as in the seed's workloads. */
  sleep(ms: number): Promise<void>;
}

export interface KnobSpec {
  default: KnobValue;
  description: string;
  /** For string knobs: the accepted values. */
  choices?: readonly string[];
  /** For number knobs: inclusive bounds. */
  min?: number;
  max?: number;
}

export type KnobSpecs = Record<string, KnobSpec>;
type Widen<V> = V extends number ? number : V extends boolean ? boolean : V extends string ? string : never;
/** The knob values a workload receives, typed from its specs' defaults. */
export type KnobsOf<S extends KnobSpecs> = { [P in keyof S]: Widen<S[P]["default"]> };

/** What a client knows about itself; the same object is passed to setup, think and every cycle. */
export interface ClientContext<K extends Knobs = Knobs> {
  readonly knobs: K;
  readonly dialect: Dialect;
  /** 0-based, unique across all workers of the run. */
  readonly clientId: number;
  readonly workerId: number;
  /** Per-client scratch space (e.g. ids found in setup). */
  readonly state: Record<string, unknown>;
  /** Uniform in [0, 1). */
  random(): number;
  /** Integer uniform in [min, max]. */
  randomInt(min: number, max: number): number;
  /** true with probability pct / 100: the seed's frequency knobs. */
  chance(pct: number): boolean;
}

/** One step of a cycle. A skipped op (its frequency roll said no) is counted as skipped, not timed. */
export type Op = { name: string; run(session: Session): Promise<unknown> } | { name: string; skip: true };

/**
 * How `dcpbench init` creates a workload's schema: it runs schemas/<name>/<dialect>/schema.sql, then
 * populate.sql, with every {{var}} replaced by `vars(scale, dialect)[var]`.
 */
export interface InitSpec {
  /** Tables the workload owns; --drop drops them (CASCADE). The first one's existence means "initialised". */
  tables: string[];
  /** Types the workload owns (dropped after the tables). */
  types?: string[];
  /** Scale 1 is the seed's size; tests use small fractions. */
  vars(scale: number, dialect: Dialect): Record<string, string | number>;
  /** Refuses a scale the workload cannot use (e.g. tpcb: a whole number, as pgbench -s); returns an error. */
  checkScale?(scale: number): string | undefined;
  /**
   * What the cycles do to the tables that a later run would notice (rows added, moved, deleted), in a phrase;
   * absent when a run leaves them as it found them in all that matters. `sweep` says it when not re-initialising.
   */
  cyclesChangeData?: string | ((knobs: Knobs) => string | undefined);
}

export interface Workload<S extends KnobSpecs = KnobSpecs, K extends Knobs = KnobsOf<S>> {
  name: string;
  description: string;
  knobs: S;
  init?: InitSpec;
  /** Once per client, before the run starts (not timed). */
  setup?(session: Session, ctx: ClientContext<K>): Promise<void>;
  /** Milliseconds to wait before each cycle in closed loop (not timed). Ignored in open loop (--rate). */
  think?(ctx: ClientContext<K>): number;
  /**
   * The names of the ops a cycle can return, for these knobs (optional): with it, a `--threshold` naming an op
   * the workload does not have is refused before the run instead of failing at its end.
   */
  opNames?(knobs: K): readonly string[];
  /** The ordered ops of one cycle, the equivalent of dbworkload's loop(). */
  cycle(ctx: ClientContext<K>): Op[];
  /** `dcpbench check <workload>`: verifies the workload's invariant (e.g. bank: the sum of balances). */
  check?(session: Session): Promise<{ ok: boolean; message: string }>;
}

/** Identity function that gives a workload object its types. */
export function defineWorkload<S extends KnobSpecs>(w: Workload<S>): Workload<S> {
  return w;
}

/** An op that did not run this cycle. */
export function skipped(name: string): Op {
  return { name, skip: true };
}
