import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import type { ResultFile } from "../../src/schema/result.js";
import type { UpOptions } from "../../src/stack/stack.js";
import { linkExists, netnsExists, vipNet } from "../../src/stack/vip-net.js";
import { runCli, runToResult } from "./cli.js";
import { startStack, type TestStack } from "./stack.js";

/**
 * Nothing of a --vip stack's network or processes is left on the machine. (Pacemaker's mounts live in the nodes'
 * own mount namespaces, which go with their last process: with the namespaces gone, so is everything run in them.)
 */
export function assertNothingLeft(portBase: number, dir: string): void {
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

/** A `--vip` stack of pool 8 with bank initialised, and its port base. */
export async function startVipBankStack(
  opts: Omit<UpOptions, "dir" | "portBase">,
): Promise<{ stack: TestStack; portBase: number }> {
  const stack = await startStack({ vip: true, poolSize: 8, ...opts });
  const init = await runCli(["init", "bank", "--scale", "0.1", "--uri", stack.status.uris.direct], stack.env);
  assert.equal(init.code, 0, init.stderr);
  return { stack, portBase: Number(new URL(stack.status.uris.direct).port) };
}

/** bank through the stack's VIP, 8 clients over 2 workers, with these faults (and these run flags). */
export async function bankThroughVip(
  stack: TestStack,
  duration: string,
  faults: string[],
  extra: string[] = [],
): Promise<ResultFile> {
  const args = [
    "bank",
    "--uri",
    stack.status.uris.pooled,
    "--txn-pooling",
    "--conns",
    "8",
    "--duration",
    duration,
  ]
    .concat(faults.flatMap((f) => ["--fault", f]))
    .concat(["--workers", "2", "--progress", "off", "--stack-dir", stack.dir], extra);
  return (await runToResult(args, { env: stack.env })).result as ResultFile;
}

/** `stack start node-b`, then `stack move node-b`: the VIP is on node-b after it (status says so). */
export async function startAndMoveToB(stack: TestStack): Promise<void> {
  for (const verb of ["start", "move"]) {
    const r = await runCli(["stack", verb, "node-b", "--dir", stack.dir], stack.env);
    assert.equal(r.code, 0, r.stderr);
  }
  const status = await runCli(["stack", "status", "--dir", stack.dir], stack.env);
  assert.match(status.stdout, /VIP 198\.18\.\d+\.100 on node-b\n/);
}
