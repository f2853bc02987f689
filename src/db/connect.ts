import pg from "pg";
import { parse, parseIntoClientConfig } from "pg-connection-string";
import pgPass from "pgpass";
import type { Dialect } from "../api.js";
import { UsageError } from "../errors.js";
import { classifyError } from "./errors.js";
import { redactUri, validateUri } from "./uri.js";
import type { ServerInfo } from "../schema/result.js";

export interface ConnectOptions {
  uri: string;
  appName: string;
  connectTimeoutMs: number;
  /**
   * How long a statement may wait for its answer (pg's query_timeout; none by default). For helpers' own
   * connections: a server whose host vanished sends nothing back, and TCP takes a quarter of an hour to say so.
   */
  queryTimeoutMs?: number;
}

/**
 * The password for a URI the way libpq finds it: in the URI, else $PGPASSWORD, else the password file
 * ($PGPASSFILE or ~/.pgpass). Resolved once per process, so it never travels on argv or over IPC.
 */
export async function findPassword(uri: string): Promise<string | undefined> {
  validateUri(uri);
  // As pg reads the URI: a socket directory and a port given as parameters (?host=/run/pg&port=6432) count.
  const c = parse(uri);
  if (c.password) return c.password;
  if (process.env.PGPASSWORD) return process.env.PGPASSWORD;
  const user = c.user || process.env.PGUSER || process.env.USER;
  const info = {
    host: c.host || process.env.PGHOST || "localhost",
    port: c.port || process.env.PGPORT || "5432",
    database: c.database || process.env.PGDATABASE || user,
    user,
  };
  return new Promise((resolve) => pgPass(info, (pass) => resolve(pass ?? undefined)));
}

const NO_PASSWORD = "no password";
const WHERE_PASSWORD = "put it in the URI, PGPASSWORD or a pgpass file (PGPASSFILE)";

/** pg's words when the server asked for a password and none was found ("client password must be a string"). */
function missingPassword(err: unknown, password: string | undefined): boolean {
  return !password && /client password must be a string|SASL/.test((err as Error)?.message ?? "");
}

/**
 * Connects a helper's own client (a sampler's). On failure it closes it at once, since a login that failed on
 * our side leaves the socket open until the server's authentication_timeout, and throws what a user should
 * read: pg's SASL message for a missing password becomes where to put one.
 */
export async function connectOrClose(client: pg.Client, password: string | undefined): Promise<void> {
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw missingPassword(err, password) ? new Error(`${NO_PASSWORD}: ${WHERE_PASSWORD}`) : err;
  }
}

/** A pg client config for one benchmark client. */
export function clientConfig(opts: ConnectOptions, password: string | undefined): pg.ClientConfig {
  const base = parseIntoClientConfig(opts.uri);
  return {
    ...base,
    password: password ?? "",
    application_name: opts.appName,
    connectionTimeoutMillis: opts.connectTimeoutMs,
    keepAlive: true,
    ...(opts.queryTimeoutMs !== undefined ? { query_timeout: opts.queryTimeoutMs } : {}),
  };
}

/**
 * Ends a helper's client, waiting at most `ms`: a goodbye to a server whose host vanished is never answered
 * (pg already drops the socket when a statement is still waiting; this covers the idle case). Then the socket
 * is dropped, else it would hold the process until TCP gave up.
 */
export async function endWithin(client: pg.Client, ms = 1000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([
    client.end().then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
  ]);
  clearTimeout(timer);
  // pg has no public way to drop a connection without its goodbye.
  if (!ended)
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

export function dialectOf(version: string): Dialect {
  return /cockroach/i.test(version) ? "cockroach" : "postgres";
}

/**
 * Connects once before any worker starts: a wrong password, an unknown database or an unreachable host
 * becomes one clear line (exit 2) instead of a thousand failing clients.
 */
export async function probeServer(opts: ConnectOptions): Promise<ServerInfo> {
  const password = await findPassword(opts.uri);
  const client = new pg.Client(clientConfig(opts, password));
  client.on("error", () => {});
  const where = redactUri(opts.uri);
  try {
    await client.connect();
    const res = await client.query<{ version: string }>("SELECT version() AS version");
    const version = res.rows[0].version;
    return { product: dialectOf(version), version };
  } catch (err) {
    const c = classifyError(err);
    if (c.sqlstate === "28P01" || c.sqlstate === "28000") {
      throw new UsageError(`cannot log in to ${where}: ${c.message}`);
    }
    if (missingPassword(err, password))
      throw new UsageError(`${NO_PASSWORD} for ${where}: ${WHERE_PASSWORD}`);
    throw new UsageError(
      `cannot connect to ${where}: ${c.message}${c.sqlstate ? ` (SQLSTATE ${c.sqlstate})` : ""}`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}
