import { defineWorkload, skipped } from "../src/api.js";

/**
 * The smallest workload: one trivial statement per cycle. It measures the round trip through the
 * connection path (direct, PgBouncer, HAProxy) and the harness itself, with no schema to initialise.
 */
export default defineWorkload({
  name: "select1",
  description: "SELECT 1 per cycle (or pg_sleep with sleep_ms): round trip through the connection path",
  opNames: () => ["select"],
  knobs: {
    sleep_ms: {
      default: 0,
      min: 0,
      description: "server-side pg_sleep per cycle, in ms (0: plain SELECT 1)",
    },
    think_ms: { default: 0, min: 0, description: "closed-loop think time before each cycle, in ms" },
    in_txn: { default: false, description: "run the statement inside an explicit transaction" },
    skip_pct: { default: 0, min: 0, max: 100, description: "percentage of cycles whose op is skipped" },
  },
  think: (ctx) => ctx.knobs.think_ms,
  cycle(ctx) {
    if (ctx.chance(ctx.knobs.skip_pct)) return [skipped("select")];
    const sql = ctx.knobs.sleep_ms > 0 ? "SELECT pg_sleep($1::float8 / 1000)" : "SELECT 1";
    const params = ctx.knobs.sleep_ms > 0 ? [ctx.knobs.sleep_ms] : [];
    return [
      {
        name: "select",
        run: (s) => (ctx.knobs.in_txn ? s.transaction((tx) => tx.query(sql, params)) : s.query(sql, params)),
      },
    ];
  },
});
