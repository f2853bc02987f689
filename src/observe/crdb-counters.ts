import type { SqlClient } from "./sampler-connection.js";
import type { Counters } from "./pg-counters.js";
import { SAMPLER_MARK } from "./statements.js";

/**
 * CockroachDB's closest equivalents of pg_stat_database, read from the node the sampler is connected to
 * (crdb_internal.node_metrics: the gateway node's counters, as its DB Console charts them): SQL commits and
 * rollbacks, SQL connections opened, the node process's CPU and RSS. Written from CockroachDB's documentation
 * (its metrics list) and reviewed by reading: CockroachDB cannot be installed here.
 */
const METRICS: Record<string, string> = {
  "sql.txn.commit.count": "commits",
  "sql.txn.rollback.count": "rollbacks",
  "sql.new_conns": "sessions",
  "sys.cpu.user.ns": "cpu_user_ns",
  "sys.cpu.sys.ns": "cpu_sys_ns",
  "sys.rss": "rss_bytes",
};

export class CrdbCounters {
  constructor(private readonly client: SqlClient) {}

  async read(): Promise<Counters> {
    const { rows } = await this.client.query<{ name: string; value: number }>(
      `${SAMPLER_MARK} SELECT name, value FROM crdb_internal.node_metrics WHERE name = ANY($1)`,
      [Object.keys(METRICS)],
    );
    const values: Record<string, number> = {};
    for (const r of rows) values[METRICS[r.name]] = Number(r.value);
    const missing: Record<string, string> = {};
    for (const [name, key] of Object.entries(METRICS))
      if (values[key] === undefined) missing[key] = `this CockroachDB has no ${name} metric`;
    return { values, missing };
  }
}

/**
 * The run's statements on CockroachDB: crdb_internal.node_statement_statistics of the gateway node, for the
 * run's application_name (count and mean service latency in seconds, cumulative until CockroachDB resets
 * them; a reset within the window leaves a statement out).
 */
export async function crdbStatements(
  client: SqlClient,
  appName: string,
): Promise<Map<string, { calls: number; totalMs: number; rows: number; query: string }>> {
  const { rows } = await client.query<{ key: string; count: string; lat: number; rows: number }>(
    `${SAMPLER_MARK} SELECT key, count, service_lat_avg AS lat, rows_avg AS rows
       FROM crdb_internal.node_statement_statistics WHERE application_name = $1`,
    [appName],
  );
  const out = new Map<string, { calls: number; totalMs: number; rows: number; query: string }>();
  for (const r of rows) {
    const prev = out.get(r.key);
    const calls = Number(r.count);
    const add = { calls, totalMs: calls * Number(r.lat) * 1000, rows: Math.round(calls * Number(r.rows)) };
    out.set(
      r.key,
      prev
        ? {
            ...prev,
            calls: prev.calls + add.calls,
            totalMs: prev.totalMs + add.totalMs,
            rows: prev.rows + add.rows,
          }
        : { ...add, query: r.key },
    );
  }
  return out;
}
