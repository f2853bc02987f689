/**
 * What the server-side sampler can read of a server, found out once at its start: the postmaster's processes
 * (when the server is on this host), PostgreSQL's or CockroachDB's counters and statement statistics, and for
 * each figure that cannot be measured, why.
 */
import { pidListeningOn, postmasterOf } from "./proc-usage.js";
import type { Dialect } from "../schema/result.js";
import type { ServerSideSummary } from "../schema/server-side.js";
import { CrdbCounters, crdbStatements } from "./crdb-counters.js";
import { PgCounters } from "./pg-counters.js";
import type { SqlClient } from "./sampler-connection.js";
import { SAMPLER_MARK, StatementStats } from "./statements.js";

export interface ServerSideOptions {
  /** A direct URI of the database the run loads (not through a pooler). */
  uri: string;
  /** The role the run's clients log in as: its statements are the run's (PostgreSQL). */
  role: string;
  /** The run's application_name: its statements are the run's (CockroachDB). */
  appName: string;
  dialect: Dialect;
  intervalMs: number;
  /**
   * The postmaster's pid when the server runs on this host; absent: why not; `local`: the server's host is this
   * one, and the sampler finds the process itself (PostgreSQL: the parent of its own backend; CockroachDB: the
   * process listening on the port).
   */
  postmaster: { pid(): number | undefined } | { absent: string } | { local: { port: number } };
  /** --wait-events: sample the run's sessions by op over the window (PostgreSQL). */
  opWaits?: boolean;
  /** The stack's poolers in front of the server (their pids read each time: a fault may restart one). */
  poolers: Array<{ member: string; pid(): number | undefined }>;
}

export type Missing = Partial<Record<keyof ServerSideSummary, string>>;

export const STATEMENT_FIGURES = ["statementMeanMs", "statementCalls"] as const;
export const DATABASE_FIGURES = [
  "commitsPerSec",
  "rollbacksPerSec",
  "sessionsOpenedPerSec",
  "cacheHitRatio",
  "deadlocks",
  "tempBytes",
  "walBytesPerTxn",
  "walSyncMeanMs",
] as const;

/** A server on this host, found from the sampler's own connection; else why its processes cannot be read. */
export async function findPostmaster(
  client: SqlClient | undefined,
  opts: ServerSideOptions,
  unreachable?: string,
): Promise<{ pid(): number | undefined } | { absent: string }> {
  if (!("local" in opts.postmaster)) return opts.postmaster;
  const port = opts.postmaster.local.port;
  if (opts.dialect === "cockroach") {
    const pid = pidListeningOn(port);
    return pid !== undefined
      ? { pid: () => pid }
      : { absent: `no process of this host that this user may inspect listens on port ${port}` };
  }
  if (!client) return { absent: unreachable ?? "no connection to the server" };
  const { rows } = await client.query<{ pid: number; started: string }>(
    `${SAMPLER_MARK} SELECT pg_backend_pid() AS pid, extract(epoch FROM pg_postmaster_start_time()) AS started`,
  );
  const found = postmasterOf(Number(rows[0].pid), Number(rows[0].started));
  return typeof found === "number" ? { pid: () => found } : { absent: found };
}

/** The figures /proc would give are null, with the reason, when the server's processes cannot be read. */
export function noProcesses(opts: ServerSideOptions, missing: Missing, warn: (line: string) => void): void {
  if (!("absent" in opts.postmaster)) return;
  for (const k of ["cpuSec", "cpuPct", "cpuPerTxnMs", "memoryMb", "readMb", "writeMb"] as const)
    missing[k] = opts.postmaster.absent;
  if (opts.dialect === "postgres") warn(`server CPU and memory not measured: ${opts.postmaster.absent}`);
}

/** PostgreSQL: pg_stat_database and pg_stat_wal, pg_stat_statements when it is there. */
export async function postgresParts(
  client: SqlClient,
  opts: ServerSideOptions,
  missing: Missing,
  warn: (line: string) => void,
): Promise<{ counters: PgCounters; statements?: StatementStats }> {
  const version = Number(
    (await client.query(`${SAMPLER_MARK} SHOW server_version_num`)).rows[0].server_version_num,
  );
  const counters = new PgCounters(client, version);
  const probe = await counters.read();
  for (const [k, why] of Object.entries(probe.missing)) {
    if (k === "sessions") missing.sessionsOpenedPerSec = why;
    if (k === "wal_bytes") missing.walBytesPerTxn = why;
    if (k === "wal_sync_time") missing.walSyncMeanMs = why;
  }
  if (Object.keys(probe.missing).length) warn(Object.values(probe.missing)[0]);
  // The setting exists from PostgreSQL 14 on (missing_ok: null before).
  const walTiming = await client.query(
    `${SAMPLER_MARK} SELECT current_setting('track_wal_io_timing', true) AS on`,
  );
  if (walTiming.rows[0].on !== "on" && !missing.walSyncMeanMs)
    missing.walSyncMeanMs = "track_wal_io_timing is off (SET it on, as a superuser, to time WAL syncs)";
  const statements = await StatementStats.open(client, opts.role, version);
  if (typeof statements !== "string") return { counters, statements };
  for (const k of STATEMENT_FIGURES) missing[k] = statements;
  warn(`statement times not measured: ${statements}`);
  return { counters };
}

/** CockroachDB: the gateway node's metrics and statement statistics (see crdb-counters.ts). */
export async function cockroachParts(
  client: SqlClient,
  opts: ServerSideOptions,
  missing: Missing,
): Promise<{ counters: CrdbCounters; statements: StatementStats }> {
  const why =
    "CockroachDB keeps no PostgreSQL-style buffer, temp-file or WAL statistics (see its DB Console)";
  for (const k of ["cacheHitRatio", "deadlocks", "tempBytes", "walBytesPerTxn", "walSyncMeanMs"] as const)
    missing[k] = why;
  return {
    counters: new CrdbCounters(client),
    statements: StatementStats.reading(() => crdbStatements(client, opts.appName)),
  };
}
