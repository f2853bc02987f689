import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { memberPid } from "../src/stack/members.js";
import { stackPaths } from "../src/stack/layout.js";
import { stackStartMember, stackStatus } from "../src/stack/stack.js";
import { childPids, isAlive, sleep } from "../src/stack/system.js";
import { runCli } from "./helpers/cli.js";
import { freePortBase, startStack, type TestStack } from "./helpers/stack.js";

/** Which of the two bouncers holds a client with this application_name (from SHOW CLIENTS). */
async function bouncerOf(stack: TestStack, appName: string, bouncers = [1, 2]): Promise<number[]> {
  const found: number[] = [];
  for (const n of bouncers) {
    const admin = await stack.client(stack.status.uris.pgbouncerAdmin[n - 1]);
    const clients = await admin.query("SHOW CLIENTS");
    if (clients.rows.some((r) => r.application_name === appName)) found.push(n);
    await admin.end();
  }
  return found;
}

describe("stack --ha: PostgreSQL, two PgBouncers, HAProxy", { timeout: 120_000 }, () => {
  let stack: TestStack;
  before(async () => {
    stack = await startStack({ ha: true });
  });
  after(async () => {
    await stack?.down();
  });

  it("answers queries through the direct and the pooled URI", async () => {
    const direct = await stack.client(stack.status.uris.direct);
    const d = await direct.query("SELECT current_user AS u, inet_server_port() AS port");
    assert.equal(d.rows[0].u, "dcpbench");
    const pooled = await stack.client(stack.status.uris.pooled);
    const p = await pooled.query("SELECT current_user AS u, inet_server_port() AS port");
    assert.equal(p.rows[0].u, "dcpbench");
    // Through HAProxy and PgBouncer, the server is still the stack's PostgreSQL.
    assert.equal(p.rows[0].port, d.rows[0].port);
  });

  it("over the unix socket only the bootstrap superuser logs in; the stack's user needs TCP and its password", async () => {
    const socket = {
      host: stackPaths(stack.dir).pgSocket,
      port: Number(new URL(stack.status.uris.direct).port),
    };
    const superuser = new pg.Client({ ...socket, user: "postgres", database: "postgres" });
    await superuser.connect();
    const rules = await superuser.query(
      "SELECT type, user_name, auth_method FROM pg_hba_file_rules ORDER BY line_number",
    );
    await superuser.end();
    assert.deepEqual(
      rules.rows.map((r) => `${r.type} ${r.user_name} ${r.auth_method}`),
      ["local postgres peer", "host all scram-sha-256"],
    );
    const user = new pg.Client({ ...socket, user: "dcpbench", database: "dcpbench", password: "" });
    await assert.rejects(user.connect(), /no pg_hba\.conf entry .* user "dcpbench"/);
  });

  it("shows a pooled client in PgBouncer's SHOW POOLS, in transaction mode", async () => {
    const pooled = await stack.client(stack.status.uris.pooled, { application_name: "pools-probe" });
    await pooled.query("SELECT 1");
    let clients = 0;
    for (const uri of stack.status.uris.pgbouncerAdmin) {
      const admin = await stack.client(uri);
      const pools = await admin.query("SHOW POOLS");
      for (const row of pools.rows.filter((r) => r.database === "dcpbench")) {
        assert.equal(row.pool_mode, "transaction");
        clients += Number(row.cl_active) + Number(row.cl_waiting);
      }
    }
    assert.ok(clients >= 1, `expected the pooled client in SHOW POOLS, saw ${clients}`);
  });

  it("sends the next connection to the other PgBouncer after kill -9, and restarts it with stack start", async () => {
    const first = await stack.client(stack.status.uris.pooled, { application_name: "failover-1" });
    await first.query("SELECT 1");
    const [victim] = await bouncerOf(stack, "failover-1");
    assert.ok(victim === 1 || victim === 2, "the client is on one of the bouncers");
    const victimName = `pgbouncer-${victim}` as const;

    const kill = await runCli(["stack", "kill", victimName, "--signal", "KILL", "--dir", stack.dir]);
    assert.equal(kill.code, 0, kill.stderr);
    await sleep(100);
    assert.equal(memberPid(stackPaths(stack.dir), victimName), undefined, "the killed bouncer is gone");

    const second = await stack.client(stack.status.uris.pooled, { application_name: "failover-2" });
    assert.equal((await second.query("SELECT 2 AS n")).rows[0].n, 2);
    const survivor = victim === 1 ? 2 : 1;
    assert.deepEqual(await bouncerOf(stack, "failover-2", [survivor]), [survivor]);

    const status = stackStatus(stack.dir);
    assert.equal(status.members.find((m) => m.name === victimName)?.state, "down");
    await stackStartMember(stack.dir, victimName);
    assert.equal(stackStatus(stack.dir).running, true);
    const again = await stack.client(stack.status.uris.pgbouncer[victim - 1]);
    assert.equal((await again.query("SELECT 3 AS n")).rows[0].n, 3);
  });

  it("stack up on a running stack says so instead of starting twins", async () => {
    const pidsBefore = stackStatus(stack.dir).members.map((m) => m.pid);
    const res = await runCli(["stack", "up", "--dir", stack.dir]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /already running/);
    assert.deepEqual(
      stackStatus(stack.dir).members.map((m) => m.pid),
      pidsBefore,
    );
  });

  it("status --json lists members and URIs without the password", async () => {
    const res = await runCli(["stack", "status", "--json", "--dir", stack.dir]);
    assert.equal(res.code, 0, res.stderr);
    const status = JSON.parse(res.stdout);
    assert.deepEqual(
      status.members.map((m: { name: string }) => m.name),
      ["postgres", "pgbouncer-1", "pgbouncer-2", "haproxy"],
    );
    assert.match(status.uris.pooled, /^postgresql:\/\/dcpbench@127\.0\.0\.1:\d+\/dcpbench$/);
    assert.ok(!res.stdout.includes(stack.password));
  });

  it("stack down stops every member and leaves no process behind", async () => {
    const paths = stackPaths(stack.dir);
    const names = ["postgres", "pgbouncer-1", "pgbouncer-2", "haproxy"] as const;
    const pids = names.map((n) => memberPid(paths, n)).filter((p): p is number => p !== undefined);
    assert.equal(pids.length, 4);
    const backends = childPids(pids[0]);
    assert.ok(backends.length > 0, "postgres has child processes to clean up");
    const res = await runCli(["stack", "down", "--dir", stack.dir]);
    assert.equal(res.code, 0, res.stderr);
    await sleep(200);
    for (const pid of [...pids, ...backends]) assert.equal(isAlive(pid), false, `pid ${pid} still alive`);
    assert.equal(stackStatus(stack.dir).running, false);
  });
});

describe("stack: bad input", { timeout: 60_000 }, () => {
  it("names the port that is taken, in one line with exit 2", async () => {
    const base = await freePortBase();
    const blocker = createServer().listen(base + 1, "127.0.0.1");
    await new Promise((r) => blocker.once("listening", r));
    try {
      const res = await runCli([
        "stack",
        "up",
        "--dir",
        "/tmp/dcpbench-never-used",
        "--port-base",
        String(base),
      ]);
      assert.equal(res.code, 2);
      assert.equal(res.stderr.trim().split("\n").length, 1, res.stderr);
      assert.match(res.stderr, new RegExp(`port ${base + 1} \\(pgbouncer-1\\) is already in use`));
    } finally {
      blocker.close();
    }
  });

  it("rejects an unknown member and an unknown signal", async () => {
    const a = await runCli(["stack", "kill", "pgbouncer-9", "--dir", "/tmp/x"]);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /unknown stack member 'pgbouncer-9'/);
    const b = await runCli(["stack", "kill", "postgres", "--signal", "BOOM", "--dir", "/tmp/x"]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /unknown signal 'BOOM'/);
  });
});
