import { once } from "node:events";
import type pg from "pg";
import Cursor from "pg-cursor";

/**
 * Reads a query's rows through pg-cursor: one portal, `pageSize` rows per Execute, each page handed to `onPage`
 * as it arrives. Resolves to the number of rows read. The portal is closed (Close + Sync) after the last page or
 * on an error, so the connection is ready for the next statement either way; until then a transaction pooler
 * keeps the connection's server link, since no Sync has ended the implicit transaction.
 */
export async function readPages<R>(
  client: pg.Client,
  sql: string,
  params: readonly unknown[],
  pageSize: number,
  onPage?: (rows: R[]) => void,
): Promise<number> {
  const cursor = client.query(new Cursor<R>(sql, params as unknown[]));
  let total = 0;
  let readFailed = false;
  try {
    for (;;) {
      const rows = await cursor.read(pageSize).catch((err: unknown) => {
        readFailed = true; // pg-cursor has sent Sync itself; a Close now would wait for a reply already gone
        throw err;
      });
      if (rows.length) onPage?.(rows);
      total += rows.length;
      if (rows.length < pageSize) return total;
    }
  } finally {
    // A connection lost meanwhile never answers the Close: its end settles the wait.
    if (!readFailed) {
      const gone = new AbortController();
      const ended = once(client, "end", { signal: gone.signal }).catch(() => {});
      await Promise.race([cursor.close(), ended]);
      gone.abort(); // the listener goes with it
    }
  }
}
