import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { clientConfig, findPassword } from "../src/db/connect.js";
import { PgbouncerSampler } from "../src/observe/pgbouncer-sampler.js";
import { readStackConfig, STACK_DB, stackPaths } from "../src/stack/layout.js";
import { memberPids } from "../src/stack/members.js";
import { runCli, runToResult } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";

const PROCS = 2;
const POOL = 8;
/** Clients held open through the shared port: the kernel spreads them over the processes. */
const HELD = 40;

async function connectAll(uri: string, n: number): Promise<pg.Client[]> {
  const password = await findPassword(uri);
  const clients: pg.Client[] = [];
  for (let i = 0; i < n; i++) {
    const c = new pg.Client(clientConfig({ uri, appName: "procs-test", connectTimeoutMs: 10_000 }, password));
    c.on("error", () => {});
    await c.connect();
    await c.query("SELECT 1");
    clients.push(c);
  }
  return clients;
}

/** Each process's own SHOW POOLS, through its own admin socket: its clients of the stack's database. */
async function clientsPerProcess(admins: string[]): Promise<number[]> {
  const counts: number[] = [];
  for (const uri of admins) {
    const c = new pg.Client(
      clientConfig({ uri, appName: "procs-test", connectTimeoutMs: 10_000 }, await findPassword(uri)),
    );
    await c.connect();
    try {
      const { rows } = await c.query<Record<string, string>>("SHOW POOLS");
      counts.push(
        rows
          .filter((r) => r.database === STACK_DB)
          .reduce((n, r) => n + Number(r.cl_active) + Number(r.cl_waiting), 0),
      );
    } finally {
      await c.end();
    }
  }
  return counts;
}

describe("stack up --pgbouncer-procs: several PgBouncer processes on one port", { timeout: 240_000 }, () => {
  let stack: TestStack;

  before(async () => {
    stack = await startStack({ poolSize: POOL, pgbouncerProcs: PROCS });
    // This process's own connections find the password as the CLI's do.
    process.env.PGPASSFILE = stack.status.pgpassfile;
  });
  after(async () => {
    await stack?.down();
  });

  it("runs each process with so_reuseport, its own socket directory and its share of the pool", () => {
    const paths = stackPaths(stack.dir);
    const cfg = readStackConfig(paths)!;
    assert.equal(memberPids(cfg, paths, "pgbouncer-1").length, PROCS);
    const member = stack.status.members.find((m) => m.name === "pgbouncer-1")!;
    assert.equal(member.pids?.length, PROCS);
    assert.equal(stack.status.uris.pgbouncerAdmin.length, PROCS);
    for (let k = 1; k <= PROCS; k++) {
      const ini = readFileSync(paths.bouncer(1, k).ini, "utf8");
      assert.match(ini, /^so_reuseport = 1$/m);
      assert.match(ini, new RegExp(`^unix_socket_dir = ${paths.bouncer(1, k).socket}$`, "m"));
      assert.match(ini, new RegExp(`^default_pool_size = ${POOL / PROCS}$`, "m"));
    }
  });

  it("both processes take clients, and the sampler's counts are the sum of theirs", async () => {
    const held = await connectAll(stack.status.uris.pooled, HELD);
    try {
      const each = await clientsPerProcess(stack.status.uris.pgbouncerAdmin);
      assert.equal(each.length, PROCS);
      assert.equal(
        each.reduce((a, b) => a + b, 0),
        HELD,
      );
      // The kernel hashes each connection's addresses: with 40 connections both processes get some.
      for (const n of each) assert.ok(n > 0, `clients per process: ${each.join(", ")}`);
      const sampler = new PgbouncerSampler({
        pgbouncerAdmins: stack.status.uris.pgbouncerAdmin,
        appName: "procs-test",
        database: STACK_DB,
        dialect: "postgres",
        intervalMs: 1000,
      });
      await sampler.connect();
      try {
        const s = await sampler.sample();
        assert.equal(s.pgb_cl_active + s.pgb_cl_waiting, HELD);
        assert.equal(s.pgb_pool_size, POOL, "the processes' pools add up to the node's");
      } finally {
        await sampler.close();
      }
    } finally {
      await Promise.all(held.map((c) => c.end()));
    }
  });

  it("a pooled run through both reports each process's CPU", async () => {
    await runCli(["init", "select1", "--uri", stack.status.uris.direct], stack.env);
    const { result } = await runToResult(
      ["select1", "--uri", stack.status.uris.pooled, "--txn-pooling", "--conns", "16", "--duration", "3s"],
      { env: stack.env },
    );
    assert.deepEqual(Object.values(result.summary.__cycle__.errors), [0, 0, 0, 0]);
    assert.ok(result.summary.__cycle__.count > 0);
    const members = result.serverSide!.poolers.map((p) => p.member).sort();
    assert.deepEqual(members, ["pgbouncer-1.1", "pgbouncer-1.2"]);
    for (const p of result.serverSide!.poolers) assert.ok((p.cpuSec ?? 0) > 0, `${p.member} used no CPU`);
  });

  it("cancel-check: one process honours every cancel; with two, the ones that reach the other are lost", async () => {
    const direct = await runCli(
      ["cancel-check", "--uri", stack.status.uris.direct, "--tries", "6"],
      stack.env,
    );
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(direct.stdout, /6 of 6 honoured/);
    const pooled = await runCli(
      ["cancel-check", "--uri", stack.status.uris.pooled, "--tries", "30", "--json"],
      stack.env,
    );
    const probe = JSON.parse(pooled.stdout) as { honoured: number; ignored: number; failed: number };
    assert.equal(probe.failed, 0);
    assert.equal(probe.honoured + probe.ignored, 30);
    // Each cancel lands on either process: all 30 on the right one has odds of 2^-30.
    assert.ok(probe.ignored > 0 && probe.honoured > 0, `honoured ${probe.honoured}, lost ${probe.ignored}`);
    assert.equal(pooled.code, 1, "lost cancels exit 1");
    assert.equal(stack.status.members.length, 2);
    const paths = stackPaths(stack.dir);
    assert.equal(
      memberPids(readStackConfig(paths)!, paths, "pgbouncer-1").length,
      PROCS,
      "both processes survived",
    );
  });

  it("sweep --pgbouncer-procs restarts the PgBouncers for each line and leaves the stack as it found it", async () => {
    const out = `${stack.dir}-sweep`;
    const res = await runCli(
      [
        "sweep",
        "select1",
        "--target",
        `pooled=${stack.status.uris.pooled},txn-pooling`,
        "--conns",
        "4",
        "--pgbouncer-procs",
        "1,2",
        "--repeat",
        "1",
        "--duration",
        "2s",
        "--out",
        out,
        "--json",
      ],
      stack.env,
    );
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /restarting the stack's PgBouncer with 1 process\(es\)/);
    const index = JSON.parse(res.stdout) as {
      plan: { pgbouncerProcs?: number[] };
      points: Array<{ procs?: number; error?: string }>;
    };
    assert.deepEqual(index.plan.pgbouncerProcs, [1, 2]);
    assert.deepEqual(
      index.points.map((p) => [p.procs, p.error]),
      [
        [1, undefined],
        [2, undefined],
      ],
    );
    assert.match(res.stderr, /pooled \(2 PgBouncer processes\)/);
    const paths = stackPaths(stack.dir);
    const cfg = readStackConfig(paths)!;
    assert.equal(cfg.pgbouncerProcs, PROCS, "the stack's own process count is back");
    assert.equal(memberPids(cfg, paths, "pgbouncer-1").length, PROCS);
    rmSync(out, { recursive: true, force: true });
  });

  it("refuses bad --pgbouncer-procs values in one line (exit 2)", async () => {
    for (const bad of [["0"], ["1.5"], ["17"], ["8", "--pool-size", "4"]]) {
      const res = await runCli(
        ["stack", "up", "--dir", `${stack.dir}-bad`, "--pgbouncer-procs", ...bad],
        stack.env,
      );
      assert.equal(res.code, 2, `${bad.join(" ")}: ${res.stderr}`);
      assert.equal(res.stderr.trim().split("\n").length, 1, res.stderr);
    }
  });
});
