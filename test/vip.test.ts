import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { vipNet, netnsExists, netnsUnavailable, nodeRoutes } from "../src/stack/vip-net.js";
import { runCli, startCli } from "./helpers/cli.js";
import { freePortBase, type TestStack } from "./helpers/stack.js";
import { assertNothingLeft, bankThroughVip, startAndMoveToB, startVipBankStack } from "./helpers/vip.js";

const unavailable = netnsUnavailable();
if (unavailable) console.log(`# vip tests skipped: ${unavailable}`);

describe(
  "stack up --vip: two pooler nodes, keepalived moving one VIP",
  { skip: unavailable, timeout: 300_000 },
  () => {
    let stack: TestStack;
    let portBase: number;
    const bank = (...faults: string[]) => bankThroughVip(stack, "10s", faults);

    before(async () => {
      ({ stack, portBase } = await startVipBankStack({}));
    });
    after(async () => {
      const dir = stack?.dir;
      await stack?.down();
      if (dir) assertNothingLeft(portBase, dir);
    });

    it("node-a holds the VIP; clients reach PostgreSQL through it; no namespace has a route out", async () => {
      assert.deepEqual(stack.status.vip?.holders, ["node-a"]);
      assert.match(stack.status.uris.pooled, /^postgresql:\/\/dcpbench@198\.18\.\d+\.100:\d+\/dcpbench$/);
      for (const n of ["a", "b"] as const) {
        const routes = nodeRoutes(vipNet(portBase), n);
        assert.ok(!/^default/m.test(routes), `node-${n} has no default route:\n${routes}`);
      }
      const status = await runCli(["stack", "status", "--dir", stack.dir], stack.env);
      assert.match(status.stdout, /VIP 198\.18\.\d+\.100 on node-a/);
      // Each node by its own address, in its namespace.
      assert.match(status.stdout, /node-b\s+running\s+198\.18\.\d+\.12:\d+/);
    });

    it("a node's crash: the VIP moves (keepalived's record), the clients' outage is measured, bank's sum holds", async () => {
      const r = await bank("at=3s kill node-a signal=KILL");
      const f = r.faults[0];
      assert.equal(f.ok, true, f.error);
      const master = f.vip?.find((e) => e.node === "node-b" && e.state === "MASTER");
      assert.ok(master, `node-b took the VIP: ${JSON.stringify(f.vip)}`);
      // Three missed adverts of 1 s, less the time since the last one: within a few seconds of the crash.
      const moved = master.at - f.startedAt!;
      assert.ok(moved > 0.5 && moved < 6, `the VIP moved ${moved} s after the crash`);
      const a = r.availability[0];
      assert.ok(a.clientsAffected > 0, "clients lost their connections");
      assert.notEqual(a.recoveredAfterSec, null, "every affected client was served again");
      assert.ok(r.summary.__cycle__.count > 0);
      const check = await runCli(["check", "bank", "--uri", stack.status.uris.direct], stack.env);
      assert.equal(check.code, 0, check.stdout + check.stderr);
      const status = await runCli(["stack", "status", "--dir", stack.dir], stack.env);
      assert.match(status.stdout, /VIP 198\.18\.\d+\.100 on node-b/);
    });

    it("a graceful stop: node-a, back as the backup, takes the VIP when node-b's keepalived gives it away", async () => {
      const r = await bank("at=1s start node-a", "at=5s kill node-b signal=TERM");
      assert.deepEqual(
        r.faults.map((f) => [f.ok, f.error]),
        [
          [true, undefined],
          [true, undefined],
        ],
      );
      // nopreempt: node-a's return does not move the VIP back.
      assert.ok(!r.faults[0].vip?.some((e) => e.state === "MASTER"), JSON.stringify(r.faults[0].vip));
      const master = r.faults[1].vip?.find((e) => e.node === "node-a" && e.state === "MASTER");
      assert.ok(master, `node-a took the VIP: ${JSON.stringify(r.faults[1].vip)}`);
      // A graceful stop sends a priority-0 advert: the backup takes over at once, not after three missed adverts.
      assert.ok(
        master.at - r.faults[1].startedAt! < 2,
        `moved after ${master.at - r.faults[1].startedAt!} s`,
      );
      assert.notEqual(r.availability[1].recoveredAfterSec, null);
      const check = await runCli(["check", "bank", "--uri", stack.status.uris.direct], stack.env);
      assert.equal(check.code, 0, check.stdout + check.stderr);
    });

    it("a node killed and started at the same instant: the start waits for the crash, and the node is back", async () => {
      const r = await bankThroughVip(stack, "5s", [
        "at=1s start node-b",
        "at=3s kill node-b signal=KILL",
        "at=3s start node-b",
      ]);
      assert.deepEqual(
        r.faults.map((f) => [f.ok, f.error]),
        [
          [true, undefined],
          [true, undefined],
          [true, undefined],
        ],
      );
      const [, kill, start] = r.faults;
      assert.ok(start.startedAt! >= kill.doneAt!, JSON.stringify(r.faults));
      const status = await runCli(["stack", "status", "--dir", stack.dir], stack.env);
      assert.match(
        status.stdout,
        /node-b\s+running\s+198\.18\.\d+\.12:\d+\s+pids [\d, ]+\(3 of 3 processes\)/,
      );
      // node-b's link is up again: it answers on its own address.
      const c = await stack.client(stack.status.uris.pgbouncer[1]);
      await c.end();
      const down = await runCli(
        ["stack", "kill", "node-b", "--signal", "KILL", "--dir", stack.dir],
        stack.env,
      );
      assert.equal(down.code, 0, down.stderr);
    });

    it("the seed's manual move: `stack move node-b` puts the VIP there; moving it where it is is refused", async () => {
      await startAndMoveToB(stack);
      const again = await runCli(["stack", "move", "node-b", "--dir", stack.dir], stack.env);
      assert.equal(again.code, 2, again.stderr);
      assert.match(again.stderr, /the VIP is already on node-b/);
    });

    it("a node's power loss: nothing of it reaches the clients or PostgreSQL; its transactions stay open", async () => {
      // The VIP is on node-b (the move above). Without the observer, no cleanup ends what the run left open.
      // Long enough for the clients' TCP retransmissions (about 3 s, then 6 s after their last send) to reach the
      // new holder once the VIP has moved.
      const r = await bankThroughVip(
        stack,
        "14s",
        ["at=3s poweroff node-b"],
        ["--no-observe", "--drain", "1s"],
      );
      const f = r.faults[0];
      assert.equal(f.ok, true, f.error);
      const master = f.vip?.find((e) => e.node === "node-a" && e.state === "MASTER");
      assert.ok(master, `node-a took the VIP: ${JSON.stringify(f.vip)}`);
      // No FIN or RST from the dead node: a client hears of it only from the new holder, once the VIP is there.
      const firstErrors = r.outages.filter((o) => o.firstError >= f.startedAt!).map((o) => o.firstError);
      assert.ok(firstErrors.length > 0, "clients lost their connections");
      // (The VIP's time is keepalived's notify script's clock reading, a few ms after the address moved.)
      const first = Math.min(...firstErrors);
      assert.ok(first >= master.at - 0.1, `first error ${first}, VIP ${master.at}`);
      // PostgreSQL never heard either: the sessions of the transactions cut off are still open, holding locks.
      const c = await stack.client(stack.status.uris.direct);
      try {
        const open = `FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND backend_type = 'client backend'`;
        const { rows } = await c.query<{ n: number }>(
          `SELECT count(*)::int AS n ${open} AND state = 'idle in transaction'`,
        );
        assert.ok(rows[0].n > 0, "transactions left open on PostgreSQL");
        await c.query(`SELECT pg_terminate_backend(pid) ${open}`);
      } finally {
        await c.end();
      }
      const check = await runCli(["check", "bank", "--uri", stack.status.uris.direct], stack.env);
      assert.equal(check.code, 0, check.stdout + check.stderr);
      const start = await runCli(["stack", "start", "node-b", "--dir", stack.dir], stack.env);
      assert.equal(start.code, 0, start.stderr);
    });

    it("refuses --vip with --ha, and isolate or poweroff for a member that is not a node, in one line (exit 2)", async () => {
      const both = await runCli(["stack", "up", "--dir", `${stack.dir}-x`, "--vip", "--ha"], stack.env);
      assert.equal(both.code, 2, both.stderr);
      for (const verb of ["isolate", "poweroff"]) {
        const r = await runCli(["stack", verb, "postgres", "--dir", stack.dir], stack.env);
        assert.equal(r.code, 2, r.stderr);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      }
    });
  },
);

describe(
  "stack down after `stack up --vip` was killed part-way",
  { skip: unavailable, timeout: 120_000 },
  () => {
    it("removes every namespace, link, address and process it had made", async () => {
      const dir = mkdtempSync(join(tmpdir(), "dcpbench-vipkill-"));
      chmodSync(dir, 0o755);
      const portBase = await freePortBase();
      const up = startCli(["stack", "up", "--vip", "--dir", dir, "--port-base", String(portBase)]);
      // Killed while the first node starts: the network, PostgreSQL and half a node are there to be cleaned up.
      await up.waitForStderr(/starting node-a/);
      up.child.kill("SIGKILL");
      await up.done;
      assert.equal(netnsExists(vipNet(portBase).nodes.a.netns), true, "the network had been made");
      const down = await runCli(["stack", "down", "--dir", dir]);
      assert.equal(down.code, 0, down.stderr);
      assertNothingLeft(portBase, dir);
      rmSync(dir, { recursive: true, force: true });
    });
  },
);
