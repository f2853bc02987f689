import type { SqlClient } from "./sampler-connection.js";
import type { TopStatement } from "../schema/server-side.js";

interface Row {
  calls: number;
  totalMs: number;
  rows: number;
  query: string;
}

/** The application_name of the samplers' connections, so that they are left out of the counts of sessions. */
export const OBSERVER_APP = "dcpbench-observer";

/** Marks the samplers' own statements, so that they are left out of the run's. */
export const SAMPLER_MARK = "/* dcpbench sampler */";

/**
 * pg_stat_statements, read before and after the measured window (never reset: the server may be shared):
 * the run's statements are the query ids of the run's database and role whose calls grew in between, less
 * the samplers' own.
 */
export class StatementStats {
  private before: Map<string, Row> | undefined;

  private constructor(private readonly read: () => Promise<Map<string, Row>>) {}

  /** Statistics from another source of cumulative per-statement figures (CockroachDB's). */
  static reading(read: () => Promise<Map<string, Row>>): StatementStats {
    return new StatementStats(read);
  }

  /** Undefined, with the reason, when the extension is not there to read. */
  static async open(client: SqlClient, role: string, version: number): Promise<StatementStats | string> {
    if (version < 130000) return "pg_stat_statements before PostgreSQL 13 has no total_exec_time";
    const ext = await client.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'");
    if (!ext.rowCount) {
      return (
        "pg_stat_statements is not installed in this database (add it to shared_preload_libraries, restart, " +
        "then CREATE EXTENSION pg_stat_statements)"
      );
    }
    try {
      await client.query(`${SAMPLER_MARK} SELECT 1 FROM pg_stat_statements LIMIT 1`);
    } catch (err) {
      return `pg_stat_statements cannot be read: ${(err as Error).message}`;
    }
    return new StatementStats(() => readPgStatStatements(client, role, version >= 140000));
  }

  async markStart(): Promise<void> {
    this.before = await this.read();
  }

  /** The run's statements over the window, slowest in total first. */
  async delta(): Promise<TopStatement[]> {
    const after = await this.read();
    const out: TopStatement[] = [];
    for (const [queryId, a] of after) {
      const b = this.before?.get(queryId);
      const calls = a.calls - (b?.calls ?? 0);
      if (calls <= 0) continue;
      const totalMs = a.totalMs - (b?.totalMs ?? 0);
      out.push({
        queryId,
        query: a.query,
        calls,
        totalMs: +totalMs.toFixed(3),
        meanMs: +(totalMs / calls).toFixed(4),
        rows: a.rows - (b?.rows ?? 0),
      });
    }
    return out.sort((x, y) => y.totalMs - x.totalMs);
  }
}

async function readPgStatStatements(
  client: SqlClient,
  role: string,
  toplevel: boolean,
): Promise<Map<string, Row>> {
  const { rows } = await client.query<{
    queryid: string;
    calls: string;
    total: number;
    rows: string;
    query: string;
  }>(
    `${SAMPLER_MARK} SELECT s.queryid::text AS queryid, s.calls, s.total_exec_time AS total, s.rows, s.query
       FROM pg_stat_statements s
      WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND s.userid = (SELECT oid FROM pg_roles WHERE rolname = $1)${toplevel ? " AND s.toplevel" : ""}`,
    [role],
  );
  const out = new Map<string, Row>();
  for (const r of rows) {
    if (r.query.includes(SAMPLER_MARK)) continue;
    out.set(r.queryid, {
      calls: Number(r.calls),
      totalMs: Number(r.total),
      rows: Number(r.rows),
      query: r.query,
    });
  }
  return out;
}
