import pg from "pg";
import { clientConfig, connectOrClose, findPassword } from "./connect.js";

/** How long leftover sessions may take to end on their own before they are ended. */
export const LEFTOVER_WAIT_MS = 30_000;

/**
 * A backend runs its statement to the end after its client has gone: a flight run at 1024 direct clients left
 * statements running for tens of seconds, holding row locks that the next run (a sweep's next point, the pooled
 * half of a comparison) then waited on, measuring the last run's tail. Waits for the sessions named `appNames`
 * (`whose` in what it says) to end, up to `waitMs`, then terminates what is left, on a connection to the server
 * at `uri`; says what it did. Only sessions inside a statement or a transaction count: an idle one is a pooler's
 * server connection kept for its next client (PgBouncer names it after the last one), or a backend about to see
 * that its client has gone.
 */
export async function clearLeftovers(
  uri: string,
  appNames: string[],
  whose: string,
  say: (line: string) => void,
  waitMs = LEFTOVER_WAIT_MS,
): Promise<void> {
  const password = await findPassword(uri);
  const client = new pg.Client(
    clientConfig({ uri, appName: "dcpbench-sweep", connectTimeoutMs: 10_000 }, password),
  );
  client.on("error", () => {});
  await connectOrClose(client, password);
  try {
    const left = async () =>
      Number(
        (
          await client.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = ANY($1) AND state <> 'idle' AND pid <> pg_backend_pid()",
            [appNames],
          )
        ).rows[0].n,
      );
    let n = await left();
    if (n === 0) return;
    const started = Date.now();
    say(
      `${n} session(s) of ${whose} still on the server after their clients left; waiting up to ${waitMs / 1000} s for their statements to end`,
    );
    while (n > 0 && Date.now() - started < waitMs) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      n = await left();
    }
    if (n === 0) {
      say(`they ended after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return;
    }
    const { rows } = await client.query<{ n: string }>(
      "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = ANY($1) AND state <> 'idle' AND pid <> pg_backend_pid()",
      [appNames],
    );
    say(`ended ${rows[0].n} of them after ${waitMs / 1000} s (pg_terminate_backend)`);
  } finally {
    await client.end().catch(() => {});
  }
}
