import type { Driver } from "../schema/plan.js";
/**
 * How benchmark clients send queries: `lean` writes each query straight to the socket of a connection pg
 * opened and leaves rows as bytes until read (src/db/lean-client.ts); `pg` goes through pg's Client.query.
 */

export const DRIVERS: readonly Driver[] = ["lean", "pg"];
