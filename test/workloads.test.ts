import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { pgProgram } from "../src/stack/system.js";
import { resultIn, runCli } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";
import type { ResultFile } from "../src/schema/result.js";
import { CYCLE } from "../src/schema/measures.js";

const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

describe("the seed workloads on the local stack, direct and pooled", { timeout: 600_000 }, () => {
  let stack: TestStack;
  const cli = (args: string[]) => runCli(args, stack.env);

  /** A short run; asserts it succeeded with no error of any kind, and returns its result. */
  async function run(
    workload: string,
    mode: "direct" | "pooled",
    extra: string[],
    queryMode = mode === "direct" ? "prepared" : "simple",
  ): Promise<ResultFile> {
    const out = tmp("dcpbench-wl-");
    const target =
      mode === "direct"
        ? ["--uri", stack.status.uris.direct, "--query-mode", queryMode]
        : ["--uri", stack.status.uris.pooled, "--txn-pooling", "--query-mode", queryMode];
    const res = await cli([
      "run",
      workload,
      ...target,
      "--conns",
      "8",
      "--workers",
      "2",
      "--progress",
      "off",
      "--out",
      out,
      ...extra,
    ]);
    assert.equal(res.code, 0, res.stderr);
    const { result } = resultIn(out);
    for (const [op, s] of Object.entries(result.summary)) {
      assert.deepEqual(
        s.errors,
        { connection: 0, serialization: 0, timeout: 0, other: 0 },
        `${workload} ${mode} ${op}: ${JSON.stringify(result.errorSamples)}`,
      );
    }
    return result;
  }

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.down();
  });

  it("flight: init at a small scale; every op runs, at its frequency, direct and through PgBouncer", async () => {
    const init = await cli(["init", "flight", "--scale", "0.01", "--uri", stack.status.uris.direct]);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stderr, /10000 flights done/);
    const again = await cli(["init", "flight", "--scale", "0.01", "--uri", stack.status.uris.direct]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already initialised.*add --drop/);
    // The seed's client protocol: prepared after 5 runs direct; through PgBouncer 1.18 a prepared statement
    // would fail on the next server connection, so an error-free pooled run shows it never prepared there.
    for (const mode of ["direct", "pooled"] as const) {
      const r = await run("flight", mode, ["--iterations", "150", "--set", "delay=0"], "psycopg");
      const cycles = r.summary[CYCLE].count;
      assert.equal(cycles, 300);
      for (const [op, pct] of [
        ["schedule", 10],
        ["status", 90],
        ["inventory", 75],
        ["price", 25],
      ] as const) {
        const s = r.summary[op];
        assert.equal(s.count + s.skipped, cycles, `${op}: run or skipped, every cycle`);
        assert.ok(
          Math.abs(s.count / cycles - pct / 100) < 0.12,
          `${op} ran ${s.count}/${cycles}, expected ~${pct}%`,
        );
      }
    }
  });

  for (const payload of ["jsonb", "jsonb-manual", "text"]) {
    it(`train, payload=${payload}: add / process / archive move events PENDING → COMPLETE → archive`, async () => {
      if (payload === "jsonb") {
        const init = await cli(["init", "train", "--scale", "0.02", "--uri", stack.status.uris.direct]);
        assert.equal(init.code, 0, init.stderr);
      }
      const knobs = [
        "--set",
        `payload=${payload}`,
        "--set",
        "delay=0",
        "--set",
        "min_batch_size=5",
        "--set",
        "max_batch_size=20",
      ];
      for (const mode of ["direct", "pooled"] as const) {
        const r = await run("train", mode, ["--iterations", "15", ...knobs]);
        for (const op of ["add", "process", "archive"]) assert.equal(r.summary[op].count, 30, op);
      }
      const t = `train_events_${payload.replace("-", "_")}`;
      const db = await stack.client(stack.status.uris.direct);
      const archived = Number((await db.query(`SELECT count(*) AS n FROM ${t}_archive`)).rows[0].n);
      assert.ok(archived > 0, "some events went all the way to the archive");
      const leaked = await db.query(`SELECT count(*) AS n FROM ${t} e JOIN ${t}_archive a USING (id)`);
      assert.equal(Number(leaked.rows[0].n), 0, "archived events are deleted from the live table");
      const orphans = await db.query(
        `SELECT count(*) AS n FROM ${t} e LEFT JOIN ${t}_status s ON s.event_id = e.id WHERE s.event_id IS NULL`,
      );
      assert.equal(Number(orphans.rows[0].n), 0, "every live event has a status");
      const states = await db.query(`SELECT status, count(*) AS n FROM ${t}_status GROUP BY status`);
      const seen = new Set(states.rows.map((r) => r.status));
      for (const s of ["PENDING", "PROCESSING"]) assert.ok(seen.has(s), `${s} present`);
      const processed = await db.query(
        `SELECT count(*) AS n FROM ${t} WHERE ${payload === "text" ? "payload::jsonb" : "payload"} -> 'metrics' -> 'flags' ? 'fleeted' AND ${payload === "text" ? "payload::jsonb" : "payload"} ->> 'state' <> 'NEW'`,
      );
      assert.ok(Number(processed.rows[0].n) > 0, "process rewrote payloads");
      if (payload !== "jsonb-manual") {
        const generated = await db.query(
          `SELECT count(*) AS n FROM ${t} WHERE event_type IS NULL OR train_id IS NULL`,
        );
        assert.equal(Number(generated.rows[0].n), 0, "generated columns are filled from the payload");
      }
      await db.end();
    });
  }

  it("flight, as the seed runs it: each op reads its ids (key order, first tenth) and then updates them", async () => {
    const db = await stack.client(stack.status.uris.direct);
    const readCalls = async () =>
      Number(
        (
          await db.query(
            "SELECT coalesce(sum(calls), 0) AS n FROM pg_stat_statements WHERE query LIKE 'SELECT id FROM flights ORDER BY id OFFSET%'",
          )
        ).rows[0].n,
      );
    await db.query("UPDATE flight_status SET updated_at = '2000-01-01'");
    const before = await readCalls();
    const only = ["schedule_freq=0", "status_freq=100", "inventory_freq=0", "price_freq=0"];
    const knobs = [...only, "batch_size=16", "delay=0"].flatMap((k) => ["--set", k]);
    const r = await run("flight", "direct", ["--iterations", "50", ...knobs]);
    assert.equal(r.summary.status.count, 100);
    assert.equal((await readCalls()) - before, 100, "one id read per op");
    const updated = (
      await db.query<{ id: string }>(
        "SELECT flight_id AS id FROM flight_status WHERE updated_at > '2000-01-02'",
      )
    ).rows.map((row) => Number(row.id));
    const ids = new Set(updated);
    const n = Number((await db.query("SELECT count(*) AS n FROM flights")).rows[0].n);
    assert.ok(updated.length >= 16, `${updated.length} flights updated`);
    assert.ok(
      updated.every((id) => id <= n / 10 + 16),
      "every updated flight is in the first tenth (the offset's range, plus one batch)",
    );
    const withNeighbour = updated.filter((id) => ids.has(id - 1) || ids.has(id + 1)).length;
    assert.equal(withNeighbour, updated.length, "batches are contiguous runs of ids");
    const uniform = await run("flight", "direct", ["--iterations", "5", ...knobs, "--set", "pick=uniform"]);
    assert.equal(uniform.summary.status.count, 10);
    assert.equal((await readCalls()) - before, 100, "pick=uniform reads no ids");
  });

  it("flight lookup_freq: a route's departures read through pg-cursor in pages, direct and pooled", async () => {
    const db = await stack.client(stack.status.uris.direct);
    const lookups = async () =>
      (
        await db.query<{ calls: string }>(
          "SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_statements WHERE query LIKE 'SELECT f.id, f.flight_number%'",
        )
      ).rows[0];
    const before = await lookups();
    const only = ["schedule_freq=0", "status_freq=0", "inventory_freq=0", "price_freq=0", "lookup_freq=100"];
    const knobs = [...only, "lookup_window=1440", "page_size=2", "delay=0"].flatMap((k) => ["--set", k]);
    for (const mode of ["direct", "pooled"] as const) {
      const r = await run("flight", mode, ["--iterations", "20", ...knobs]);
      assert.equal(r.summary.lookup.count, 40, mode);
    }
    const after = await lookups();
    assert.equal(Number(after.calls) - Number(before.calls), 80, "one cursor per lookup");
  });

  it("train: FAILED is a tenth of the terminal transitions (the seed's CASE: 60/36/4)", async () => {
    const db = await stack.client(stack.status.uris.direct);
    const t = "train_events_text";
    const counts = async () => {
      const q = await db.query(
        `SELECT (SELECT count(*) FROM ${t}_status WHERE status = 'FAILED') AS failed,
                (SELECT count(*) FROM ${t}_status WHERE status = 'COMPLETE') + (SELECT count(*) FROM ${t}_archive) AS complete`,
      );
      return { failed: Number(q.rows[0].failed), complete: Number(q.rows[0].complete) };
    };
    const a = await counts();
    await run("train", "direct", ["--iterations", "60", "--set", "payload=text", "--set", "delay=0"]);
    const b = await counts();
    const failed = b.failed - a.failed;
    const terminal = failed + b.complete - a.complete;
    assert.ok(terminal >= 2000, `${terminal} terminal transitions`);
    assert.ok(Math.abs(failed / terminal - 0.1) <= 0.04, `FAILED ${failed} of ${terminal}`);
  });

  it("bank: transfers keep the sum of balances; check catches a broken invariant", async () => {
    assert.equal((await cli(["init", "bank", "--scale", "0.05", "--uri", stack.status.uris.direct])).code, 0);
    for (const mode of ["direct", "pooled"] as const) {
      const r = await run("bank", mode, ["--iterations", "300"]);
      assert.equal(r.summary.transfer.count, 600);
    }
    const ok = await cli(["check", "bank", "--uri", stack.status.uris.direct]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /bank check ok: 50 accounts .*sum of balances 50000 \(expected 50000\)/);
    const db = await stack.client(stack.status.uris.direct);
    await db.query("UPDATE bank_accounts SET balance = balance + 1 WHERE id = 7");
    const broken = await cli(["check", "bank", "--uri", stack.status.uris.direct]);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /bank check FAILED: .*sum of balances 50001 \(expected 50000\)/);
    await db.query("UPDATE bank_accounts SET balance = balance - 1 WHERE id = 7");
    await db.end();
  });

  it("tpcb: pgbench runs on a dcpbench-initialised schema, and dcpbench on a pgbench -i schema", async () => {
    const pgbench = pgProgram("pgbench");
    assert.ok(pgbench, "pgbench is installed with postgresql-15");
    const uri = stack.status.uris.direct;
    assert.equal((await cli(["init", "tpcb", "--scale", "1", "--uri", uri])).code, 0);
    const out = execFileSync(pgbench, ["-n", "-S", "-t", "200", "-c", "2", uri], {
      env: stack.env,
      encoding: "utf8",
    });
    assert.match(out, /scaling factor: 1\b/);
    assert.match(out, /number of transactions actually processed: 400\/400/);

    execFileSync(pgbench, ["-i", "-s", "2", "-q", uri], { env: stack.env, stdio: "ignore" });
    for (const script of ["tpcb-like", "simple-update", "select-only"]) {
      for (const mode of ["direct", "pooled"] as const) {
        const r = await run("tpcb", mode, ["--iterations", "100", "--set", `script=${script}`]);
        assert.equal(r.summary[script].count, 200);
      }
    }
    const db = await stack.client(uri);
    const history = await db.query("SELECT count(*) AS n FROM pgbench_history");
    assert.equal(
      Number(history.rows[0].n),
      2 * 2 * 200,
      "tpcb-like and simple-update each wrote one history row per transaction",
    );
    const scale = await db.query("SELECT count(*) AS n FROM pgbench_branches");
    assert.equal(Number(scale.rows[0].n), 2, "dcpbench used pgbench's scale");
    await db.end();
    const badScale = await cli(["init", "tpcb", "--scale", "0.5", "--drop", "--uri", uri]);
    assert.equal(badScale.code, 2);
    assert.match(badScale.stderr, /tpcb needs a whole scale/);
  });

  it("new-workload writes a stub that runs as it is", async () => {
    const dir = tmp("dcpbench-stub-");
    const made = await cli(["new-workload", "orders", "--dir", dir]);
    assert.equal(made.code, 0, made.stderr);
    const again = await cli(["new-workload", "orders", "--dir", dir]);
    assert.equal(again.code, 2);
    const r = await run(join(dir, "orders.mjs"), "pooled", ["--iterations", "20"]);
    assert.equal(r.workload, "orders");
    assert.equal(r.summary.write.count, 40);
    assert.equal(r.summary.read.count + r.summary.read.skipped, 40);
  });

  it("docs/workloads.md's own-workload example is the file the tests run", () => {
    const doc = readFileSync(fileURLToPath(new URL("../../docs/workloads.md", import.meta.url)), "utf8");
    const example = readFileSync(
      fileURLToPath(new URL("../../test/fixtures/hot-row.mjs", import.meta.url)),
      "utf8",
    );
    assert.ok(doc.includes(example.trim()), "docs/workloads.md shows test/fixtures/hot-row.mjs verbatim");
  });
});
