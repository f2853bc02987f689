import pg from "pg";
import { connectOrClose } from "../db/connect.js";

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

  static async open(config: pg.ClientConfig): Promise<SamplerConnection> {
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
    return client.query<R>(text, values);
  }

  async end(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}
