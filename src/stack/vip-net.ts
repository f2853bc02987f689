import { execFileSync } from "node:child_process";
import { UsageError } from "../errors.js";

/** The two pooler nodes of a `--vip` stack. */
export const VIP_NODES = ["a", "b"] as const;
export type VipNode = (typeof VIP_NODES)[number];

/**
 * The network of a `--vip` stack: a bridge in this namespace, one network namespace per node joined to it by a
 * veth pair. Addresses come from 198.18.0.0/15, the block RFC 2544 sets aside for benchmarking, so they cannot
 * clash with a real network; nothing routes out of it (the namespaces have no default route).
 */
export interface VipNet {
  bridge: string;
  /** The bridge's address: how the nodes reach PostgreSQL, and how this namespace reaches the VIP. */
  hostAddr: string;
  vip: string;
  nodes: Record<VipNode, { netns: string; hostLink: string; addr: string }>;
}

/** Names and addresses of a stack's network, from its port base (so that two stacks never share one). */
export function vipNet(portBase: number): VipNet {
  const subnet = `198.18.${Math.floor(portBase / 100) % 250}`;
  const node = (n: VipNode, host: number) => ({
    netns: `dcpbench-${portBase}-${n}`,
    // Interface names are at most 15 characters.
    hostLink: `dcpb${portBase}${n}`,
    addr: `${subnet}.${host}`,
  });
  return {
    bridge: `dcpb${portBase}`,
    hostAddr: `${subnet}.1`,
    vip: `${subnet}.100`,
    nodes: { a: node("a", 11), b: node("b", 12) },
  };
}

function ip(args: string[]): string {
  try {
    return execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(" ")}: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

/** Whether this process may create network namespaces (root, or CAP_NET_ADMIN), with why not. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "--vip creates network namespaces and needs root";
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
  } catch {
    return "--vip needs the ip command (iproute2)";
  }
  return undefined;
}

/** The bridge, the namespaces and their links, each node with its address and loopback up. */
export function createVipNet(net: VipNet): void {
  const subnet = net.hostAddr.replace(/\.1$/, ".");
  if (ip(["-br", "addr"]).includes(` ${subnet}`))
    throw new UsageError(`${subnet}0/24 is already in use on this machine; choose another --port-base`);
  ip(["link", "add", net.bridge, "type", "bridge"]);
  ip(["addr", "add", `${net.hostAddr}/24`, "dev", net.bridge]);
  ip(["link", "set", net.bridge, "up"]);
  for (const n of VIP_NODES) {
    const node = net.nodes[n];
    ip(["netns", "add", node.netns]);
    ip(["link", "add", node.hostLink, "type", "veth", "peer", "name", "eth0", "netns", node.netns]);
    ip(["link", "set", node.hostLink, "master", net.bridge, "up"]);
    ip(["-n", node.netns, "addr", "add", `${node.addr}/24`, "dev", "eth0"]);
    ip(["-n", node.netns, "link", "set", "eth0", "up"]);
    ip(["-n", node.netns, "link", "set", "lo", "up"]);
  }
}

/** The pids of every process in a node's namespace. */
export function netnsPids(netns: string): number[] {
  try {
    return ip(["netns", "pids", netns]).split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Whether the namespace exists. */
export function netnsExists(netns: string): boolean {
  return ip(["netns", "list"])
    .split("\n")
    .some((l) => l.split(" ")[0] === netns);
}

/** Takes a node's link to the bridge down (a crashed or cut-off node) or up again. */
export function setNodeLink(net: VipNet, n: VipNode, up: boolean): void {
  ip(["link", "set", net.nodes[n].hostLink, up ? "up" : "down"]);
}

/** Whether the node's address list holds the VIP. */
export function holdsVip(net: VipNet, n: VipNode): boolean {
  if (!netnsExists(net.nodes[n].netns)) return false;
  return ip(["-n", net.nodes[n].netns, "-br", "addr", "show", "dev", "eth0"]).includes(` ${net.vip}/`);
}

/** Drops the VIP from a node that holds it without keepalived (a node that "rebooted" after a crash). */
export function dropVip(net: VipNet, n: VipNode): void {
  if (holdsVip(net, n)) ip(["-n", net.nodes[n].netns, "addr", "del", `${net.vip}/24`, "dev", "eth0"]);
}

/** The routes of a node's namespace (a test checks that none leads out). */
export function nodeRoutes(net: VipNet, n: VipNode): string {
  return ip(["-n", net.nodes[n].netns, "route", "show", "table", "all"]);
}

/**
 * Removes the namespaces (their veth pairs go with them) and the bridge; whatever of it exists. Processes
 * still in a namespace are killed first: a namespace with a process left lingers after `ip netns del`.
 */
export async function removeVipNet(net: VipNet): Promise<void> {
  for (const n of VIP_NODES) {
    const { netns, hostLink } = net.nodes[n];
    if (netnsExists(netns)) {
      for (const pid of netnsPids(netns)) process.kill(pid, "SIGKILL");
      const deadline = Date.now() + 5000;
      while (netnsPids(netns).length > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      ip(["netns", "del", netns]);
    }
    if (linkExists(hostLink)) ip(["link", "del", hostLink]);
  }
  if (linkExists(net.bridge)) ip(["link", "del", net.bridge]);
}

export function linkExists(name: string): boolean {
  try {
    ip(["link", "show", "dev", name]);
    return true;
  } catch {
    return false;
  }
}
