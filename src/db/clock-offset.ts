import pg from "pg";
import type { ClockOffset } from "../schema/result.js";
import { clientConfig, findPassword, type ConnectOptions } from "./connect.js";

/**
 * This host's clock against the database server's, as NTP's simplest exchange does it: a few
 * `SELECT clock_timestamp()` round trips, each answer taken to be read halfway through its round trip; the
 * shortest round trip's answer is the one kept. Null when the server cannot be asked.
 */
export async function measureClockOffset(opts: ConnectOptions, samples = 5): Promise<ClockOffset | null> {
  const client = new pg.Client(clientConfig(opts, await findPassword(opts.uri)));
  client.on("error", () => {});
  try {
    await client.connect();
    let best: ClockOffset | null = null;
    for (let i = 0; i < samples; i++) {
      const sent = Date.now();
      const t0 = performance.now();
      const { rows } = await client.query<{ ms: string }>(
        "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms",
      );
      const rttMs = performance.now() - t0;
      const offsetMs = Number(rows[0].ms) - (sent + rttMs / 2);
      if (!best || rttMs < best.rttMs) best = { offsetMs: +offsetMs.toFixed(3), rttMs: +rttMs.toFixed(3) };
    }
    return best;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => {});
  }
}
