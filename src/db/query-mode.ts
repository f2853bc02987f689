import pg from "pg";
import { prepareValue } from "pg/lib/utils.js";

/** pgbench's -M: how a statement travels. */
export type QueryMode = "simple" | "extended" | "prepared";
export const QUERY_MODES: readonly QueryMode[] = ["simple", "extended", "prepared"];

/**
 * Simple protocol with parameters: like pgbench -M simple, the values are written into the text as quoted
 * literals ($n → 'value'). The server types an untyped literal from its context, as it types a parameter.
 */
export function inlineParams(sql: string, params: readonly unknown[]): string {
  return sql.replace(/\$(\d+)/g, (token, n: string) => {
    const i = Number(n) - 1;
    if (i < 0 || i >= params.length) return token;
    const v = prepareValue(params[i]);
    if (v === null) return "NULL";
    return pg.escapeLiteral(Buffer.isBuffer(v) ? `\\x${v.toString("hex")}` : v);
  });
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
  mode: QueryMode,
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
