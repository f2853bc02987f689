import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ResultFile } from "../src/schema/result.js";
import { vipNet, linkExists, netnsExists, netnsUnavailable, nodeRoutes } from "../src/stack/vip-net.js";
import { runCli, runToResult, startCli } from "./helpers/cli.js";
import { freePortBase, startStack, type TestStack } from "./helpers/stack.js";

const unavailable = netnsUnavailable();
if (unavailable) console.log(`# vip tests skipped: ${unavailable}`);

/** Nothing of a --vip stack's network or processes is left on the machine. */
function assertNothingLeft(portBase: number, dir: string): void {
  const net = vipNet(portBase);
  for (const n of Object.values(net.nodes)) {
    assert.equal(netnsExists(n.netns), false, `namespace ${n.netns} is gone`);
    assert.equal(linkExists(n.hostLink), false, `link ${n.hostLink} is gone`);
  }
  assert.equal(linkExists(net.bridge), false, `bridge ${net.bridge} is gone`);
  const addrs = execFileSync("ip", ["-br", "addr"], { encoding: "utf8" });
  assert.ok(!addrs.includes(`${net.hostAddr}/`), `no address ${net.hostAddr} left`);
  const procs = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" });
  assert.ok(!procs.includes(dir), `no process of ${dir} left:\n${procs}`);
}

describe(
  "stack up --vip: two pooler nodes, keepalived moving one VIP",
  { skip: unavailable, timeout: 300_000 },
  () => {
    let stack: TestStack;
    let portBase: number;
    /** bank through the VIP, 8 clients, 10 s, with these faults. */
    const bankThroughVip = async (...faults: string[]) =>
      (
        await runToResult(
          ["bank", "--uri", stack.status.uris.pooled, "--txn-pooling", "--conns", "8", "--duration", "10s"]
            .concat(faults.flatMap((f) => ["--fault", f]))
            .concat(["--workers", "2", "--progress", "off", "--stack-dir", stack.dir]),
          { env: stack.env },
        )
      ).result as ResultFile;

    before(async () => {
      stack = await startStack({ vip: true, poolSize: 8 });
      portBase = Number(new URL(stack.status.uris.direct).port);
      const init = await runCli(
        ["init", "bank", "--scale", "0.1", "--uri", stack.status.uris.direct],
        stack.env,
      );
      assert.equal(init.code, 0, init.stderr);
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
    });

    it("a node's crash: the VIP moves (keepalived's record), the clients' outage is measured, bank's sum holds", async () => {
      const r = await bankThroughVip("at=3s kill node-a signal=KILL");
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
      const r = await bankThroughVip("at=1s start node-a", "at=5s kill node-b signal=TERM");
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

    it("the seed's manual move: `stack move node-b` puts the VIP there; moving it where it is is refused", async () => {
      const start = await runCli(["stack", "start", "node-b", "--dir", stack.dir], stack.env);
      assert.equal(start.code, 0, start.stderr);
      const move = await runCli(["stack", "move", "node-b", "--dir", stack.dir], stack.env);
      assert.equal(move.code, 0, move.stderr);
      const status = await runCli(["stack", "status", "--dir", stack.dir], stack.env);
      assert.match(status.stdout, /VIP 198\.18\.\d+\.100 on node-b\n/);
      const again = await runCli(["stack", "move", "node-b", "--dir", stack.dir], stack.env);
      assert.equal(again.code, 2, again.stderr);
      assert.match(again.stderr, /the VIP is already on node-b/);
    });

    it("refuses --vip with --ha, and isolate for a member that is not a node, in one line (exit 2)", async () => {
      const both = await runCli(["stack", "up", "--dir", `${stack.dir}-x`, "--vip", "--ha"], stack.env);
      assert.equal(both.code, 2, both.stderr);
      const iso = await runCli(["stack", "isolate", "postgres", "--dir", stack.dir], stack.env);
      assert.equal(iso.code, 2, iso.stderr);
      assert.equal(iso.stderr.trim().split("\n").length, 1, iso.stderr);
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
