import { connect } from "node:net";
import pg from "pg";
import pLimit from "p-limit";
import { clientConfig, connectOrClose, findPassword } from "./connect.js";
import { parseIntoClientConfig } from "pg-connection-string";

/** The CancelRequest code of the PostgreSQL protocol (1234 << 16 | 5678). */
const CANCEL_REQUEST_CODE = 80877102;

/**
 * Sends one CancelRequest for a backend key over a new connection to `host` (a socket directory or a host
 * name) and `port`, as libpq's PQcancel does: write the packet, then wait for the other side to close. Closing
 * first is not harmless: PgBouncer 1.18 exits on a cancel client that hangs up before its request was
 * forwarded (pgbouncer#801, "disconnect_client(): bad client state: 0").
 */
export function sendCancel(
  host: string,
  port: number,
  pid: number,
  key: number,
  timeoutMs = 10_000,
): Promise<void> {
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeInt32BE(pid, 8);
  packet.writeInt32BE(key, 12);
  return new Promise((resolve, reject) => {
    const socket = host.startsWith("/") ? connect(`${host}/.s.PGSQL.${port}`) : connect({ host, port });
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`no answer to a cancel request in ${timeoutMs} ms`)),
    );
    socket.once("connect", () => socket.write(packet));
    socket.on("data", () => {});
    socket.once("error", reject);
    socket.once("close", (hadError) => {
      if (!hadError) resolve();
    });
  });
}

export interface CancelTrial {
  /** The query ended with "canceling statement due to user request" (57014). */
  honoured: boolean;
  /** From the cancel request to the query's end. */
  ms: number;
}

export interface CancelProbe {
  tries: number;
  honoured: number;
  /** Cancels that did not stop the query: the request reached a process that did not know the key. */
  ignored: number;
  /** Tries that failed before a cancel could be sent (no connection, query error). */
  failed: number;
  /** Median time from the cancel request to the query's end, over honoured cancels. */
  honouredMedianMs?: number;
  trials: CancelTrial[];
}

export interface CancelProbeOptions {
  uri: string;
  tries: number;
  /** Seconds each query sleeps: a cancel that is ignored shows as a query that ran its whole sleep. */
  sleepSec: number;
  /** How many tries at once. */
  concurrency: number;
  appName: string;
}

/**
 * Starts `tries` `pg_sleep` queries, each on a new connection, and cancels each one through the same endpoint
 * (a new connection again, as a client library does). A cancel that reaches the process holding the query
 * stops it at once; one that reaches another process (PgBouncers sharing a port with so_reuseport and no
 * peering) is dropped, and the query runs its full sleep.
 */
export async function probeCancels(opts: CancelProbeOptions): Promise<CancelProbe> {
  const password = await findPassword(opts.uri);
  const target = parseIntoClientConfig(opts.uri);
  const host = target.host ?? "localhost";
  const port = Number(target.port ?? 5432);
  const limit = pLimit(opts.concurrency);
  const outcomes = await Promise.all(
    Array.from({ length: opts.tries }, () =>
      limit(() => oneTrial(opts, password, host, port).catch(() => undefined)),
    ),
  );
  const trials = outcomes.filter((t): t is CancelTrial => t !== undefined);
  const honoured = trials.filter((t) => t.honoured);
  const times = honoured.map((t) => t.ms).sort((a, b) => a - b);
  return {
    tries: opts.tries,
    honoured: honoured.length,
    ignored: trials.length - honoured.length,
    failed: opts.tries - trials.length,
    honouredMedianMs: times.length ? times[Math.floor(times.length / 2)] : undefined,
    trials,
  };
}

async function oneTrial(
  opts: CancelProbeOptions,
  password: string | undefined,
  host: string,
  port: number,
): Promise<CancelTrial> {
  const client = new pg.Client(
    clientConfig({ uri: opts.uri, appName: opts.appName, connectTimeoutMs: 10_000 }, password),
  );
  client.on("error", () => {});
  await connectOrClose(client, password);
  try {
    const running = client.query(`SELECT pg_sleep(${opts.sleepSec})`).then(
      () => "completed" as const,
      (err: { code?: string }) => (err.code === "57014" ? ("cancelled" as const) : Promise.reject(err)),
    );
    // Long enough for the query to reach the server (and, pooled, a server connection).
    await new Promise((resolve) => setTimeout(resolve, 200));
    const key = client as unknown as { processID: number; secretKey: number };
    const sent = Date.now();
    await sendCancel(host, port, key.processID, key.secretKey);
    const outcome = await running;
    return { honoured: outcome === "cancelled", ms: Date.now() - sent };
  } finally {
    await client.end().catch(() => {});
  }
}
