import { UsageError } from "../errors.js";
import { vipManagerOf, type MemberName, type StackPaths } from "./layout.js";
import { configOf, memberPids, nodeOf } from "./members.js";
import { isAlive, sleep } from "./system.js";
import { netnsPids, setNodeLink, type VipNet, type VipNode } from "./vip-net.js";

/** The faults a member takes by hand (`stack kill|poweroff|isolate|rejoin`) and from --fault: signals and a node's link. */

export const SIGNALS = ["TERM", "INT", "KILL", "STOP", "CONT", "HUP", "QUIT"] as const;
export type SignalName = (typeof SIGNALS)[number];

/**
 * Sends a signal to every process of a member; returns their pids. SIGKILL to a `--vip` node is its crash:
 * everything in its namespace dies, then its link goes down (a node whose keepalived alone died would keep the
 * VIP on its interface and answer ARP for it).
 */
export async function signalMember(
  paths: StackPaths,
  name: MemberName,
  signal: SignalName,
): Promise<number[]> {
  const cfg = configOf(paths);
  const node = nodeOf(cfg, name);
  const pacemaker = node && vipManagerOf(cfg) === "pacemaker";
  // A Pacemaker node's start script stands for its cluster stack on TERM and INT only (it traps them).
  if (pacemaker && (signal === "HUP" || signal === "QUIT"))
    throw new UsageError(`a --vip pacemaker node takes KILL, TERM, INT, STOP or CONT, not ${signal}`);
  if (node && signal === "KILL") {
    const pids = await killNode(node, name);
    // The link goes only once the node's kernel has closed its dead processes' connections: the clients and
    // PostgreSQL hear of the crash at once, every time (with the link first, whether they did was a race).
    await sleep(CRASH_SETTLE_MS);
    setNodeLink(node.net, node.n, false);
    return pids;
  }
  const wholeNode = pacemaker && (signal === "STOP" || signal === "CONT");
  const pids = node && wholeNode ? netnsPids(node.net.nodes[node.n].netns) : memberPids(cfg, paths, name);
  if (pids.length === 0) throw new Error(`${name} is not running`);
  for (const pid of pids) signalPid(pid, `SIG${signal}`);
  return pids;
}

/**
 * A `--vip` node's power loss: its link goes first, then every process in its namespace dies. Nothing it had
 * open hears of it — not the clients, not PostgreSQL, whose sessions from its PgBouncer stay, with their locks,
 * until a timeout ends them. `stack start` brings it back as after a crash.
 */
export async function powerOffNode(paths: StackPaths, name: MemberName): Promise<number[]> {
  const node = nodeOf(configOf(paths), name);
  if (!node)
    throw new Error(`${name} is not a node of a --vip stack: only node-a and node-b can be powered off`);
  if (netnsPids(node.net.nodes[node.n].netns).length === 0) throw new Error(`${name} is not running`);
  setNodeLink(node.net, node.n, false);
  return killNode(node, name);
}

/** How long a node's processes may take to die, and then its last packets to leave, before its link goes. */
const NODE_EXIT_MS = 2000;
const CRASH_SETTLE_MS = 50;

/**
 * SIGKILL to every process in a node's namespace, again to any that appeared meanwhile (a monitor or notify
 * script), until none is left; returns every pid it killed.
 */
async function killNode(node: { net: VipNet; n: VipNode }, name: MemberName): Promise<number[]> {
  const netns = node.net.nodes[node.n].netns;
  const killed = new Set<number>();
  const deadline = Date.now() + NODE_EXIT_MS;
  for (;;) {
    const live = netnsPids(netns).filter(isAlive);
    if (live.length === 0 || Date.now() > deadline) break;
    for (const pid of live) {
      signalPid(pid, "SIGKILL");
      killed.add(pid);
    }
    await sleep(10);
  }
  if (killed.size === 0) throw new Error(`${name} is not running`);
  return [...killed];
}

/** process.kill, except that a process which has exited meanwhile is no error. */
function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** Cuts a `--vip` node off the others (its link down, its processes running: the split-brain case), or back. */
export function isolateNode(paths: StackPaths, name: MemberName, isolated: boolean): void {
  const node = nodeOf(configOf(paths), name);
  if (!node)
    throw new Error(`${name} is not a node of a --vip stack: only node-a and node-b can be isolated`);
  setNodeLink(node.net, node.n, !isolated);
}
