import pg from "pg";
import { prepareValue } from "pg/lib/utils.js";
import type { QueryMode } from "../schema/plan.js";

/** pgbench's -M: how a statement travels; and psycopg 3's default (the seed's client), which prepares per statement. */
export const QUERY_MODES: readonly QueryMode[] = ["simple", "extended", "prepared", "psycopg"];

/** psycopg 3's prepare_threshold: a statement is prepared once it has run this many times on a connection. */
export const PSYCOPG_PREPARE_THRESHOLD = 5;

/**
 * The mode a session runs: psycopg through a transaction pooler never prepares (the seed passes prepare=False
 * there), which is the extended protocol with unnamed statements.
 */
export function sessionMode(mode: QueryMode, txnPooling: boolean): QueryMode {
  return mode === "psycopg" && txnPooling ? "extended" : mode;
}

/** A statement split at its $n placeholders: text, index, text, …, text (parameter indexes are 0-based). */
type Template = Array<string | number>;
const templates = new Map<string, Template>();
const MAX_TEMPLATES = 10_000;

function template(sql: string): Template {
  let t = templates.get(sql);
  if (t === undefined) {
    t = [];
    let last = 0;
    for (const m of sql.matchAll(/\$(\d+)/g)) {
      t.push(sql.slice(last, m.index), Number(m[1]) - 1);
      last = m.index + m[0].length;
    }
    t.push(sql.slice(last));
    // Workloads use a handful of statements; one that builds its SQL text per call is not cached forever.
    if (templates.size < MAX_TEMPLATES) templates.set(sql, t);
  }
  return t;
}

/**
 * Simple protocol with parameters: like pgbench -M simple, the values are written into the text as quoted
 * literals ($n → 'value'). The server types an untyped literal from its context, as it types a parameter.
 */
export function inlineParams(sql: string, params: readonly unknown[]): string {
  const t = template(sql);
  let out = t[0] as string;
  for (let k = 1; k < t.length; k += 2) {
    const i = t[k] as number;
    out += (i < 0 || i >= params.length ? `$${i + 1}` : literal(params[i])) + (t[k + 1] as string);
  }
  return out;
}

/**
 * A parameter's text, as pg would send it; an array of plain numbers (a batch of ids, say) is written
 * directly, without pg's per-element quoting and escaping, which dominated the cost of a cycle of flight.
 */
export function paramText(value: unknown): ReturnType<typeof prepareValue> {
  if (Array.isArray(value) && isNumbers(value)) return `{${value.join(",")}}`;
  return prepareValue(value);
}

/** Every element a number (holes of a sparse array are not: pg writes them as NULL). */
function isNumbers(values: unknown[]): boolean {
  for (let i = 0; i < values.length; i++) if (typeof values[i] !== "number") return false;
  return true;
}

function literal(value: unknown): string {
  // A number needs no escaping: '42' is what pg's escapeLiteral would make of it.
  if (typeof value === "number") return `'${value}'`;
  const v = paramText(value);
  if (v === null) return "NULL";
  return pg.escapeLiteral(Buffer.isBuffer(v) ? `\\x${v.toString("hex")}` : v);
}

const statementNames = new Map<string, string>();

/** A stable name per statement text: the same name on every connection of this process. */
export function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `dcp_${statementNames.size + 1}`;
    statementNames.set(sql, name);
  }
  return name;
}

/** The pg query config for a statement in the given mode. */
export function queryConfig(
  mode: Exclude<QueryMode, "psycopg">,
  sql: string,
  params: readonly unknown[],
): pg.QueryConfig | string {
  switch (mode) {
    case "simple":
      return params.length ? inlineParams(sql, params) : sql;
    case "extended":
      // queryMode 'extended' makes pg use Parse/Bind/Execute even without parameters (unnamed statement).
      return { text: sql, values: params as unknown[], queryMode: "extended" } as pg.QueryConfig;
    case "prepared":
      return { name: statementName(sql), text: sql, values: params as unknown[] };
  }
}
