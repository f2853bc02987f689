import pg from "pg";
import { clientConfig, connectOrClose, endWithin, findPassword } from "../db/connect.js";
import type { Dialect } from "../api.js";
import type { ObservedSummary } from "../schema/events.js";
import { OBSERVER_APP } from "./statements.js";

export interface ObserveOptions {
  /** Where to read pg_stat_activity (a direct URI); undefined: no database sampler. */
  observeUri?: string;
  /** PgBouncer admin consoles (…/pgbouncer); empty: no pool sampler. */
  pgbouncerAdmins: string[];
  /** The run's application_name, to count its own sessions. */
  appName: string;
  /** The measured database, whose PgBouncer pools count. */
  database: string;
  dialect: Dialect;
  intervalMs: number;
}

/**
 * One source of the observer's samples, on connections of its own (never counted as load). Adding one is a
 * class in its own file and a line in the observer's SAMPLERS.
 */
export interface Sampler {
  /** How a warning names it when it cannot start: "PgBouncer sampler". */
  readonly name: string;
  /** What it reads, as a warning may show it (a URI without its password). */
  readonly target?: string;
  /** Connects; again at the next interval after its connection was lost. */
  connect(): Promise<void>;
  /** One sample: figures by name. Throws when its connection is lost. */
  sample(): Promise<Record<string, number>>;
  /** Adds what only it knows of the whole run to the run's summary. */
  summarize?(out: ObservedSummary): void;
  /** Closes its connections (after a failure too: it keeps what its summary needs). */
  close(): Promise<void>;
}

/**
 * How long one sample's statement may take. A PgBouncer on a node that lost power never answers: its sampler
 * misses samples and reconnects, and the run's end does not wait for it.
 */
export const SAMPLE_TIMEOUT_MS = 10_000;

/** A sampler's own connection, named so that the samplers leave it out of what they count. */
export async function samplerClient(uri: string): Promise<pg.Client> {
  const password = await findPassword(uri);
  const client = new pg.Client(
    clientConfig(
      { uri, appName: OBSERVER_APP, connectTimeoutMs: 5000, queryTimeoutMs: SAMPLE_TIMEOUT_MS },
      password,
    ),
  );
  client.on("error", () => {});
  await connectOrClose(client, password);
  return client;
}

export async function closeAll(clients: pg.Client[]): Promise<void> {
  await Promise.all(clients.map((c) => endWithin(c)));
}
