import { defineWorkload, type Session } from "../src/api.js";

/**
 * pgbench's built-in scripts on pgbench's own tables, with pgbench's scale semantics (--scale N = pgbench
 * -s N: N branches, 10·N tellers, 100,000·N accounts), so that dcpbench and pgbench can run against the same
 * database and their numbers be compared. The scale is read from pgbench_branches, as pgbench does.
 */
const SCRIPTS = ["tpcb-like", "simple-update", "select-only"] as const;

async function tpcbLike(s: Session, aid: number, tid: number, bid: number, delta: number, full: boolean) {
  await s.query("UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2", [delta, aid]);
  await s.query("SELECT abalance FROM pgbench_accounts WHERE aid = $1", [aid]);
  if (full) {
    await s.query("UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2", [delta, tid]);
    await s.query("UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2", [delta, bid]);
  }
  await s.query(
    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)",
    [tid, bid, aid, delta],
  );
}

export default defineWorkload({
  name: "tpcb",
  description: "pgbench's tpcb-like, simple-update and select-only scripts on pgbench's tables",
  opNames: (knobs) => [knobs.script],
  knobs: {
    script: { default: "tpcb-like", choices: SCRIPTS, description: "which pgbench built-in script" },
  },
  init: {
    tables: ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"],
    checkScale: (scale) =>
      Number.isInteger(scale) && scale >= 1 ? undefined : "tpcb needs a whole scale ≥ 1 (pgbench -s)",
    vars: (scale) => ({ scale, tellers: scale * 10, accounts: scale * 100_000 }),
    cyclesChangeData: (knobs) =>
      knobs.script === "select-only"
        ? undefined
        : `its ${String(knobs.script)} script changes balances and adds a pgbench_history row per cycle (pgbench -i restores them)`,
  },
  async setup(session, ctx) {
    const { rows } = await session.query<{ n: string }>("SELECT count(*) AS n FROM pgbench_branches");
    const scale = Number(rows[0].n);
    if (!(scale > 0))
      throw new Error("pgbench_branches is empty: run 'dcpbench init tpcb' or 'pgbench -i' first");
    ctx.state.scale = scale;
  },
  cycle(ctx) {
    const scale = ctx.state.scale as number;
    const aid = ctx.randomInt(1, 100_000 * scale);
    const script = ctx.knobs.script;
    if (script === "select-only") {
      return [
        { name: script, run: (s) => s.query("SELECT abalance FROM pgbench_accounts WHERE aid = $1", [aid]) },
      ];
    }
    // As pgbench's scripts: the select-only one draws only the account.
    const bid = ctx.randomInt(1, scale);
    const tid = ctx.randomInt(1, 10 * scale);
    const delta = ctx.randomInt(-5000, 5000);
    const full = script === "tpcb-like";
    return [{ name: script, run: (s) => s.transaction((tx) => tpcbLike(tx, aid, tid, bid, delta, full)) }];
  },
});
