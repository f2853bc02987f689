import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { VipEvent } from "../src/schema/events.js";
import { readStackConfig, stackPaths } from "../src/stack/layout.js";
import { cibXml } from "../src/stack/pacemaker.js";
import { netnsPids, netnsUnavailable, vipNet } from "../src/stack/vip-net.js";
import { runCli } from "./helpers/cli.js";
import type { TestStack } from "./helpers/stack.js";
import { assertNothingLeft, bankThroughVip, startAndMoveToB, startVipBankStack } from "./helpers/vip.js";

const unavailable = netnsUnavailable();
if (unavailable) console.log(`# vip pacemaker tests skipped: ${unavailable}`);

/** The first event of this node and state, or a failed assertion naming them all. */
function event(events: VipEvent[] | undefined, node: string, state: string): VipEvent {
  const e = events?.find((x) => x.node === node && x.state === state);
  assert.ok(e, `${node} ${state} in ${JSON.stringify(events)}`);
  return e;
}

describe(
  "stack up --vip pacemaker: the seed's Corosync + Pacemaker moving the VIP and HAProxy",
  { skip: unavailable, timeout: 400_000 },
  () => {
    let stack: TestStack;
    let portBase: number;
    const bank = (duration: string, ...faults: string[]) => bankThroughVip(stack, duration, faults);
    const bankHolds = async () => {
      const check = await runCli(["check", "bank", "--uri", stack.status.uris.direct], stack.env);
      assert.equal(check.code, 0, check.stdout + check.stderr);
    };
    /** The nodes whose namespace runs the HAProxy that Pacemaker starts. */
    const haproxyOn = () => {
      const cfgPath = stackPaths(stack.dir).vip.haproxyCfg;
      return (["a", "b"] as const).filter((n) =>
        netnsPids(vipNet(portBase).nodes[n].netns).some((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(cfgPath);
          } catch {
            return false;
          }
        }),
      );
    };

    before(async () => {
      ({ stack, portBase } = await startVipBankStack({ vipManager: "pacemaker" }));
    });
    after(async () => {
      const dir = stack?.dir;
      await stack?.down();
      if (dir) assertNothingLeft(portBase, dir);
    });

    it("the configuration it writes passes crm_verify", () => {
      const cfg = readStackConfig(stackPaths(stack.dir))!;
      const file = `${stack.dir}/cib-check.xml`;
      writeFileSync(file, cibXml(cfg, stackPaths(stack.dir), vipNet(portBase), "/usr/sbin/haproxy"));
      // Without a cluster's status every node is "unclean" (warnings); an invalid configuration is an error.
      const r = spawnSync("crm_verify", ["--xml-file", file], { encoding: "utf8" });
      assert.doesNotMatch(r.stderr, /error/i);
    });

    it("node-a holds the VIP and runs the only HAProxy; clients reach PostgreSQL through it", async () => {
      assert.deepEqual(stack.status.vip?.holders, ["node-a"]);
      assert.deepEqual(haproxyOn(), ["a"]);
      const c = await stack.client(stack.status.uris.pooled);
      assert.equal((await c.query("SELECT 1 AS one")).rows[0].one, 1);
      const status = await runCli(["stack", "status", "--dir", stack.dir], stack.env);
      assert.match(status.stdout, /VIP 198\.18\.\d+\.100 on node-a/);
    });

    it("a node's crash: lost, fenced, the VIP then HAProxy started on the other (alerts), bank's sum holds", async () => {
      const r = await bank("16s", "at=3s kill node-a signal=KILL");
      const f = r.faults[0];
      assert.equal(f.ok, true, f.error);
      const [lost, fenced, vip, haproxy] = [
        event(f.vip, "node-a", "lost"),
        event(f.vip, "node-a", "fenced"),
        event(f.vip, "node-b", "vip-start"),
        event(f.vip, "node-b", "haproxy-start"),
      ];
      assert.ok(lost.at <= fenced.at && fenced.at <= vip.at && vip.at <= haproxy.at, JSON.stringify(f.vip));
      // Corosync's token (3 s) and consensus (3.6 s) before the node counts as lost; then fencing and the start.
      const moved = vip.at - f.startedAt!;
      assert.ok(moved > 3 && moved < 15, `the VIP moved ${moved} s after the crash`);
      const a = r.availability[0];
      assert.ok(a.clientsAffected > 0, "clients lost their connections");
      assert.notEqual(a.recoveredAfterSec, null, "every affected client was served again");
      // Every client went through node-a's HAProxy: none can have been served before node-b's started.
      const firstBack = Math.min(
        ...r.outages.filter((o) => o.firstError >= f.startedAt! && o.to !== null).map((o) => o.to!),
      );
      assert.ok(firstBack >= haproxy.at - 0.5, `a client was back at ${firstBack}, HAProxy at ${haproxy.at}`);
      await bankHolds();
      assert.deepEqual(haproxyOn(), ["b"]);
    });

    it("a graceful stop: Pacemaker stops HAProxy and the VIP, then starts them on node-a, back from its crash", async () => {
      const r = await bank("14s", "at=1s start node-a", "at=6s kill node-b signal=TERM");
      assert.deepEqual(
        r.faults.map((f) => [f.ok, f.error]),
        [
          [true, undefined],
          [true, undefined],
        ],
      );
      // Stickiness: node-a's return does not move the VIP back (its rejoin is recorded, no start).
      event(r.faults[0].vip, "node-a", "member");
      assert.ok(!r.faults[0].vip?.some((e) => e.state === "vip-start"), JSON.stringify(r.faults[0].vip));
      const stop = event(r.faults[1].vip, "node-b", "vip-stop");
      const start = event(r.faults[1].vip, "node-a", "vip-start");
      assert.ok(stop.at <= start.at, JSON.stringify(r.faults[1].vip));
      // No fencing and no waiting for corosync: the node leaves in good order.
      assert.ok(!r.faults[1].vip?.some((e) => e.state === "fenced"), JSON.stringify(r.faults[1].vip));
      assert.notEqual(r.availability[1].recoveredAfterSec, null);
      await bankHolds();
    });

    it("the seed's manual move: `stack move node-b` (crm_resource --move, then its constraint cleared)", async () => {
      await startAndMoveToB(stack);
      assert.deepEqual(haproxyOn(), ["b"]);
      const pid = readFileSync(stackPaths(stack.dir).vip.cluster("b").pid, "utf8").trim();
      const constraints = execFileSync(
        "nsenter",
        ["-t", pid, "-m", "-n", "cibadmin", "-Q", "--scope", "constraints"],
        {
          encoding: "utf8",
        },
      );
      assert.doesNotMatch(constraints, /cli-prefer/, "the move's constraint is gone");
      const again = await runCli(["stack", "move", "node-b", "--dir", stack.dir], stack.env);
      assert.equal(again.code, 2, again.stderr);
    });

    it("refuses an unknown --vip manager, and HUP to a Pacemaker node, in one line (exit 2)", async () => {
      const hup = await runCli(["stack", "kill", "node-a", "--signal", "HUP", "--dir", stack.dir], stack.env);
      assert.equal(hup.code, 2, hup.stderr);
      assert.match(
        hup.stderr,
        /^dcpbench: a --vip pacemaker node takes KILL, TERM, INT, STOP or CONT, not HUP\n$/,
      );
      const r = await runCli(["stack", "up", "--dir", `${stack.dir}-x`, "--vip", "heartbeat"], stack.env);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--vip takes keepalived or pacemaker/);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    });
  },
);
