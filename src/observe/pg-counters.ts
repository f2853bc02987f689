import type { SqlClient } from "./sampler-connection.js";
import { SAMPLER_MARK } from "./statements.js";

/**
 * Cumulative counters of the run's database (pg_stat_database) and of WAL (pg_stat_wal), read as they are:
 * the sampler works with differences between readings and never resets the server's statistics (the server
 * may be shared). A counter the server does not have is absent, with the reason in `missing`.
 */
export interface Counters {
  values: Record<string, number>;
  missing: Record<string, string>;
}

const DATABASE = `${SAMPLER_MARK}
SELECT xact_commit AS commits, xact_rollback AS rollbacks, blks_read, blks_hit,
       tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, deadlocks, temp_bytes`;
/** PostgreSQL 14 added session accounting: sessions opened, and time spent in sessions (ms). */
const SESSIONS = `, sessions, session_time, active_time, idle_in_transaction_time`;
const WAL = `${SAMPLER_MARK} SELECT wal_records, wal_bytes, wal_write, wal_sync, wal_write_time, wal_sync_time FROM pg_stat_wal`;

export class PgCounters {
  constructor(
    private readonly client: SqlClient,
    /** server_version_num */
    private readonly version: number,
  ) {}

  async read(): Promise<Counters> {
    const values: Record<string, number> = {};
    const missing: Record<string, string> = {};
    const v14 = this.version >= 140000;
    const db = await this.client.query(
      `${DATABASE}${v14 ? SESSIONS : ""} FROM pg_stat_database WHERE datname = current_database()`,
    );
    for (const [k, v] of Object.entries(db.rows[0] ?? {})) values[k] = Number(v);
    if (v14) {
      const wal = await this.client.query(WAL);
      for (const [k, v] of Object.entries(wal.rows[0] ?? {})) values[k] = Number(v);
    } else {
      const why = `PostgreSQL ${Math.floor(this.version / 10000)} has no session counters or pg_stat_wal (14+)`;
      for (const k of ["sessions", "session_time", "wal_bytes", "wal_sync", "wal_sync_time"])
        missing[k] = why;
    }
    return { values, missing };
  }
}
