import type pg from "pg";
import { redactUri } from "../db/uri.js";
import { closeAll, samplerClient, type ObserveOptions, type Sampler } from "./sampler.js";
import { OBSERVER_APP, SAMPLER_MARK } from "./statements.js";

/**
 * Backend sessions as the database sees them, for the whole server and for this run's application_name:
 * their states, what they wait on (wait_event_type: Lock, LWLock, IO, IPC, Client), and how many have a
 * transaction open. The samplers' own connections are left out of every count: they are not load.
 */
const POSTGRES = `${SAMPLER_MARK}
SELECT count(*) AS db_sessions,
       count(*) FILTER (WHERE state = 'active') AS db_active,
       count(*) FILTER (WHERE state = 'idle') AS db_idle,
       count(*) FILTER (WHERE state LIKE 'idle in transaction%') AS db_idle_in_txn,
       count(*) FILTER (WHERE wait_event_type = 'Lock') AS db_lock_waiting,
       count(*) FILTER (WHERE wait_event_type = 'LWLock') AS db_lwlock_waiting,
       count(*) FILTER (WHERE wait_event_type = 'IO') AS db_io_waiting,
       count(*) FILTER (WHERE wait_event_type = 'IPC') AS db_ipc_waiting,
       count(*) FILTER (WHERE wait_event_type = 'Client' AND state = 'active') AS db_client_waiting,
       count(*) FILTER (WHERE xact_start IS NOT NULL) AS db_xact_open,
       count(*) FILTER (WHERE application_name = $1) AS run_sessions,
       count(*) FILTER (WHERE application_name = $1 AND state = 'active') AS run_active
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name <> '${OBSERVER_APP}'`;

/**
 * CockroachDB: crdb_internal.cluster_sessions (one row per SQL session, cluster-wide); a session with a
 * statement running has active_queries. Lock waits from crdb_internal.cluster_locks (waiting = true).
 * Written from CockroachDB's documentation; reviewed by reading, not run here.
 */
const COCKROACH = `
SELECT count(*) AS db_sessions,
       count(*) FILTER (WHERE active_queries <> '') AS db_active,
       count(*) FILTER (WHERE active_queries = '' AND kv_txn IS NULL) AS db_idle,
       count(*) FILTER (WHERE active_queries = '' AND kv_txn IS NOT NULL) AS db_idle_in_txn,
       (SELECT count(DISTINCT txn_id) FROM crdb_internal.cluster_locks WHERE NOT granted) AS db_lock_waiting,
       count(*) FILTER (WHERE kv_txn IS NOT NULL) AS db_xact_open,
       count(*) FILTER (WHERE application_name = $1) AS run_sessions,
       count(*) FILTER (WHERE application_name = $1 AND active_queries <> '') AS run_active
FROM crdb_internal.cluster_sessions
WHERE session_id <> (SELECT session_id FROM [SHOW session_id]) AND application_name <> '${OBSERVER_APP}'`;

/** pg_stat_activity (crdb_internal.cluster_sessions) on one connection to the database. */
export class DbSampler implements Sampler {
  readonly name = "database sampler";
  readonly target: string;
  private client: pg.Client | undefined;

  constructor(private readonly opts: ObserveOptions) {
    this.target = redactUri(opts.observeUri!);
  }

  async connect(): Promise<void> {
    this.client = await samplerClient(this.opts.observeUri!);
  }

  async sample(): Promise<Record<string, number>> {
    const sql = this.opts.dialect === "cockroach" ? COCKROACH : POSTGRES;
    const { rows } = await this.client!.query(sql, [this.opts.appName]);
    return Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, Number(v)]));
  }

  async close(): Promise<void> {
    await closeAll(this.client ? [this.client] : []);
    this.client = undefined;
  }
}
