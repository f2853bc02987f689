import pg from "pg";
import { clientConfig, connectOrClose, endWithin, findPassword } from "../db/connect.js";

/**
 * How long one of the server-side readings' statements may take: on a server overloaded by the run one took a
 * minute; a server whose host vanished would otherwise hold the run's end until TCP gave up.
 */
const READ_TIMEOUT_MS = 120_000;

/** What the samplers ask of a connection: a statement, its rows. */
export interface SqlClient {
  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/**
 * A sampler's own connection that comes back after the server did: when the connection is lost (a restart of
 * PostgreSQL, a fault of the run), the next statement connects again, once, before it runs. A statement that
 * fails for another reason fails as it would on a plain client.
 */
export class SamplerConnection implements SqlClient {
  private client: pg.Client | undefined;

  private constructor(private readonly config: pg.ClientConfig) {}

  /** A connection to `uri` under `appName`, its statements bounded in time. */
  static async open(uri: string, appName: string): Promise<SamplerConnection> {
    const config = clientConfig(
      { uri, appName, connectTimeoutMs: 5000, queryTimeoutMs: READ_TIMEOUT_MS },
      await findPassword(uri),
    );
    const c = new SamplerConnection(config);
    await c.connected();
    return c;
  }

  private async connected(): Promise<pg.Client> {
    if (this.client) return this.client;
    const client = new pg.Client(this.config);
    const lost = () => {
      if (this.client === client) this.client = undefined;
    };
    client.on("error", lost);
    client.on("end", lost);
    await connectOrClose(client, typeof this.config.password === "string" ? this.config.password : undefined);
    this.client = client;
    return client;
  }

  async query<R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>> {
    const client = await this.connected();
    try {
      return await client.query<R>(text, values);
    } catch (err) {
      // A statement that timed out still holds the connection: the next one connects again.
      if (this.client === client && /query read timeout/i.test((err as Error).message)) await this.end();
      throw err;
    }
  }

  async end(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await endWithin(client);
  }
}
