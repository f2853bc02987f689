import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { classifyError } from "../src/db/errors.js";
import { LeanClient } from "../src/db/lean-client.js";
import { QUERY_MODES, sessionMode } from "../src/db/query-mode.js";
import { readSocket } from "../src/db/read-socket.js";
import { PgSession, viaPg } from "../src/db/session.js";
import { startStack, type TestStack } from "./helpers/stack.js";

/** Values of many types, and a NULL, a duplicate name and an empty string: what pg's row objects hold. */
const TYPED = `SELECT $1::int AS i, 9007199254740993::int8 AS big, 1.50::numeric AS num, 'it''s'::text AS t,
  '{"a":[1,2]}'::jsonb AS j, true AS b, NULL::int AS n, '2026-01-02 03:04:05+00'::timestamptz AS ts,
  ARRAY[1,2,3] AS arr, ''::text AS empty, 'x' AS dup, 'y' AS dup, $2::text AS param, $3::bigint[] AS ids,
  $4::text[] AS words`;

describe("the lean query path gives what pg gives, on a real PostgreSQL", { timeout: 120_000 }, () => {
  let stack: TestStack;
  const noHooks = { onRetry: () => {} };

  before(async () => {
    stack = await startStack();
  });
  /**
   * A pg client as the runner's lean path gets it: over a readSocket (reads land in one shared buffer), or
   * over pg's own socket ('data' events: a TLS connection).
   */
  const connect = (reads: "onread" | "stream" = "onread") =>
    stack.client(stack.status.uris.direct, reads === "onread" ? { stream: readSocket } : {});
  after(async () => {
    await stack?.down();
  });

  for (const [mode, reads] of QUERY_MODES.flatMap((m) => [[m, "onread"] as const, [m, "stream"] as const])) {
    it(`rows, types and row counts in ${mode} mode, reads via ${reads}`, async () => {
      const pgPath = new PgSession(
        viaPg(await stack.client(stack.status.uris.direct)),
        "postgres",
        mode,
        noHooks,
      );
      const lean = new PgSession(new LeanClient(await connect(reads)), "postgres", mode, noHooks);
      for (let round = 0; round < 2; round++) {
        const params = [
          41 + round,
          `ünï'cøde\\ ${round}`,
          [1, -2, 2 ** 40 + round],
          ["a,b", 'q"t', "", null],
        ];
        const expected = await pgPath.query(TYPED, params);
        const got = await lean.query(TYPED, params);
        assert.deepEqual(got.rows, expected.rows);
        assert.equal(got.rowCount, 1);
        // Both sides share the parameter encoding in simple mode: the values themselves, spelled out.
        const row = got.rows[0] as Record<string, unknown>;
        assert.deepEqual(row.ids, ["1", "-2", String(2 ** 40 + round)]);
        assert.deepEqual(row.words, ["a,b", 'q"t', "", null]);
        assert.equal(row.param, params[1]);
      }
      await lean.query("CREATE TEMP TABLE t (k int PRIMARY KEY, v text)");
      const ins = await lean.query(
        "INSERT INTO t SELECT g, g::text FROM generate_series(1, $1::int) g",
        [500],
      );
      assert.equal(ins.rowCount, 500);
      // Rows are parsed when read: these are read only after more queries (their bytes must be a copy of
      // the read buffer, which later reads overwrite).
      const many = await lean.query<{ k: number; v: string }>("SELECT k, v FROM t ORDER BY k");
      const upd = await lean.query("UPDATE t SET v = v || $1 WHERE k <= $2::int", ["!", 7]);
      assert.equal(upd.rowCount, 7);
      assert.deepEqual((await lean.query("SELECT 1 WHERE false")).rows, []);
      // About 5 MB: messages split across many socket reads, one row (400 kB) bigger than any read.
      const big = "SELECT g, repeat(md5(g::text), $1::int) AS pad FROM generate_series(1, 40) g ORDER BY g";
      const bigParams = [3000];
      const wide = await lean.query<{ g: number; pad: string }>(big, bigParams);
      assert.deepEqual(wide.rows, (await pgPath.query(big, bigParams)).rows);
      const huge = await lean.query<{ n: number }>(
        "SELECT length(repeat('x', 400000)) AS n, repeat('y', 400000) AS s",
      );
      assert.equal(huge.rows[0].n, 400_000);
      assert.equal(many.rows.length, 500);
      assert.deepEqual(many.rows[0], { k: 1, v: "1" }); // as it was when queried, before the UPDATE
      assert.deepEqual(many.rows[499], { k: 500, v: "500" });
    });
  }

  it("a server error rejects with its SQLSTATE and fields; the connection goes on", async () => {
    const lean = new LeanClient(await connect());
    const session = new PgSession(lean, "postgres", "extended", noHooks);
    await session.query("CREATE TEMP TABLE u (k int PRIMARY KEY)");
    await session.query("INSERT INTO u VALUES (1)");
    await assert.rejects(session.query("INSERT INTO u VALUES ($1)", [1]), (err: Record<string, unknown>) => {
      assert.equal(err.code, "23505");
      assert.equal(err.constraint, "u_pkey");
      assert.match(String(err.message), /duplicate key/);
      return true;
    });
    await assert.rejects(session.query("SELECT * FROM no_such_table"), { code: "42P01" });
    assert.deepEqual((await session.query("SELECT 2 AS two")).rows, [{ two: 2 }]);
    // A transaction that fails is rolled back by the session; the connection stays usable.
    await assert.rejects(
      session.transaction(async (tx) => {
        await tx.query("INSERT INTO u VALUES (2)");
        await tx.query("INSERT INTO u VALUES (1)");
      }),
      { code: "23505" },
    );
    assert.deepEqual((await session.query("SELECT count(*)::int AS n FROM u")).rows, [{ n: 1 }]);
  });

  it("several statements in one simple query: the session returns the last one's result", async () => {
    const session = new PgSession(new LeanClient(await connect()), "postgres", "simple", noHooks);
    const r = await session.query("SELECT 1 AS a; SELECT 2 AS b, 3 AS c");
    assert.deepEqual(r.rows, [{ b: 2, c: 3 }]);
    // An empty query has no result: each call gets an empty one of its own (a workload may change what it gets).
    const first = await session.query<number>("");
    first.rows.push(1);
    const second = await session.query("");
    assert.deepEqual([second.rows, second.rowCount], [[], 0]);
    // Logged or saved, a result is its rows and row count.
    assert.deepEqual(JSON.parse(JSON.stringify(r)), { rows: [{ b: 2, c: 3 }], rowCount: 1 });
    // A value that cannot be sent is a rejected promise, not a throw (as when query was an async function).
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const sent = session.query("SELECT $1::text AS t", [circular]);
    await assert.rejects(sent, /circular/i);
  });

  it("a server that hangs up on an idle connection says why on the client (as pg does)", async () => {
    const client = await connect();
    const session = new PgSession(new LeanClient(client), "postgres", "simple", noHooks);
    const pid = (await session.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    const told = new Promise<unknown>((resolve) => client.once("error", resolve));
    const admin = await stack.client(stack.status.uris.direct);
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    assert.equal(((await told) as { code?: string }).code, "57P01");
    await assert.rejects(session.query("SELECT 1"), (e: unknown) => classifyError(e).cls === "connection");
  });

  it("readPages reads through a cursor in pages (lean and pg, direct and through PgBouncer), then queries go on", async () => {
    for (const uri of [stack.status.uris.direct, stack.status.uris.pooled]) {
      const pooled = uri === stack.status.uris.pooled;
      const sessions = [
        new PgSession(
          new LeanClient(await stack.client(uri, { stream: readSocket })),
          "postgres",
          "simple",
          noHooks,
        ),
        new PgSession(viaPg(await stack.client(uri)), "postgres", "extended", noHooks),
      ];
      for (const session of sessions) {
        const pages: number[][] = [];
        const n = await session.readPages<{ i: number }>(
          "SELECT i FROM generate_series(1, $1::int) AS i ORDER BY i",
          [10],
          3,
          (rows) => pages.push(rows.map((r) => r.i)),
        );
        assert.equal(n, 10);
        // Four Executes of at most 3 rows each: the server suspended the portal between them.
        assert.deepEqual(pages, [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]);
        // The read held its server connection until the last page: nothing else ran in between on it.
        assert.deepEqual(
          (await session.query("SELECT 42 AS x")).rows,
          [{ x: 42 }],
          `after a read (pooled: ${pooled})`,
        );
        await assert.rejects(
          session.readPages("SELECT 1 / (i - 2) FROM generate_series(1, 5) AS i", [], 1),
          /division by zero/,
        );
        assert.deepEqual((await session.query("SELECT 43 AS x")).rows, [{ x: 43 }], "after a failed read");
        assert.equal(await session.readPages("SELECT 1 WHERE false", [], 5), 0);
      }
    }
  });

  it("prepared mode parses a statement once per connection", async () => {
    const client = await connect();
    const session = new PgSession(new LeanClient(client), "postgres", "prepared", noHooks);
    for (let i = 0; i < 5; i++) await session.query("SELECT $1::int + 1 AS n", [i]);
    const { rows } = await session.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = 'SELECT $1::int + 1 AS n'",
    );
    assert.deepEqual(rows, [{ n: 1 }]);
  });

  it("psycopg mode prepares a statement from its 6th run on a connection, and never through a pooler", async () => {
    const prepared = async (session: PgSession) =>
      (
        await session.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = 'SELECT $1::int * 2 AS n'",
        )
      ).rows[0].n;
    for (const driver of ["lean", "pg"] as const) {
      const client = await connect();
      const session = new PgSession(
        driver === "lean" ? new LeanClient(client) : viaPg(client),
        "postgres",
        sessionMode("psycopg", false),
        noHooks,
      );
      for (let i = 0; i < 5; i++) await session.query("SELECT $1::int * 2 AS n", [i]);
      assert.equal(await prepared(session), 0, `${driver}: not after 5 runs`);
      assert.deepEqual((await session.query("SELECT $1::int * 2 AS n", [21])).rows, [{ n: 42 }]);
      assert.equal(await prepared(session), 1, `${driver}: prepared at the 6th`);
    }
    assert.equal(sessionMode("psycopg", true), "extended");
  });

  it("a connection killed by the server rejects the query in flight as a connection error", async () => {
    const client = await connect();
    const lean = new LeanClient(client);
    const session = new PgSession(lean, "postgres", "simple", noHooks);
    const pid = (await session.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    // The killer connects first, and the query would outlast a slow machine: only the kill can end it.
    const admin = await stack.client(stack.status.uris.direct);
    // Its failure is handled from the start: the kill can reject it before the killer's own reply arrives.
    const inFlight = session.query("SELECT pg_sleep(60)").then(
      () => assert.fail("the query should have failed"),
      (e: unknown) => e,
    );
    assert.deepEqual((await admin.query("SELECT pg_terminate_backend($1) AS ok", [pid])).rows, [
      { ok: true },
    ]);
    const err = await inFlight;
    assert.equal(classifyError(err).cls, "connection", String(err));
    // The server's own reason, not just "connection terminated": it said why before it hung up.
    assert.equal((err as { code?: string }).code, "57P01", String(err));
    await assert.rejects(session.query("SELECT 1"), (e: unknown) => classifyError(e).cls === "connection");
  });
});
