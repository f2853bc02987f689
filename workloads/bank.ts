import { defineWorkload } from "../src/api.js";

/**
 * bank (seed 000's `cockroach workload bank`): each cycle moves a random amount between two random
 * accounts in one transaction. One UPDATE touches both rows (through the primary key they are locked in key
 * order; a deadlock, should a plan lock them otherwise, is retried by the harness); the sum of all balances
 * never changes, which `dcpbench check bank` verifies after a fault test.
 */
const TRANSFER =
  "UPDATE bank_accounts SET balance = balance + CASE WHEN id = $1::int THEN -$3::bigint ELSE $3::bigint END " +
  "WHERE id IN ($1::int, $2::int)";

export default defineWorkload({
  name: "bank",
  description: "transfers between random pairs of accounts; the total never changes",
  opNames: () => ["transfer"],
  knobs: {
    max_transfer: { default: 100, min: 1, description: "largest amount moved by one transfer" },
  },
  init: {
    tables: ["bank_accounts", "bank_meta"],
    vars: (scale) => ({ accounts: Math.max(10, Math.round(1000 * scale)), balance: 1000 }),
  },
  async setup(session, ctx) {
    const { rows } = await session.query<{ accounts: number }>("SELECT accounts FROM bank_meta");
    if (!rows[0]) throw new Error("no accounts: run 'dcpbench init bank' first");
    ctx.state.accounts = Number(rows[0].accounts);
  },
  cycle(ctx) {
    const n = ctx.state.accounts as number;
    const from = ctx.randomInt(1, n);
    const to = 1 + ((from + ctx.randomInt(0, n - 2)) % n); // any account but `from`
    const amount = ctx.randomInt(1, ctx.knobs.max_transfer);
    return [
      {
        name: "transfer",
        run: (s) =>
          s.transaction(async (tx) => {
            const res = await tx.query(TRANSFER, [from, to, amount]);
            if (res.rowCount !== 2)
              throw new Error(`transfer ${from}→${to} touched ${res.rowCount} rows, not 2`);
          }),
      },
    ];
  },
  async check(session) {
    const { rows } = await session.query<{ n: string; sum: string; accounts: number; total: string }>(
      "SELECT count(*) AS n, sum(balance) AS sum, (SELECT accounts FROM bank_meta) AS accounts, " +
        "(SELECT total FROM bank_meta) AS total FROM bank_accounts",
    );
    const r = rows[0];
    const ok = Number(r.n) === Number(r.accounts) && String(r.sum) === String(r.total);
    return {
      ok,
      message: `${r.n} accounts (expected ${r.accounts}), sum of balances ${r.sum} (expected ${r.total})`,
    };
  },
});
