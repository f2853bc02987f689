import { UsageError } from "../errors.js";
import {
  haproxyCfg,
  keepalivedConf,
  pgbouncerIni,
  pgbouncerUserlist,
  pgpassFile,
  vipNotifyScript,
} from "./configs.js";
import { makeDir, openFileLimit, writeOwned } from "./files.js";
import {
  membersOf,
  readStackConfig,
  stackPaths,
  vipManagerOf,
  type MemberName,
  type StackConfig,
  type StackPaths,
} from "./layout.js";
import {
  clusterPid,
  fullyUp,
  memberStatus,
  portAnswers,
  startMember,
  stopKeepalived,
  type MemberStatus,
} from "./members.js";
import { clearMove, moveGroup, nodeOnline, writeClusterFiles } from "./pacemaker.js";
import { findBinaries, serviceUser, sleep, type Binaries, type ServiceUser } from "./system.js";
import { holdsVip, VIP_NODES, vipNet, type VipNode } from "./vip-net.js";

/** The VIP and the running nodes that hold it: one; none while it moves; two in a split brain. */
export function vipHolder(
  cfg: StackConfig,
  members: MemberStatus[],
): { address: string; holders: MemberName[] } {
  const net = vipNet(cfg.ports.postgres);
  const running = (n: VipNode) => members.some((m) => m.name === `node-${n}` && m.state === "running");
  const holders = VIP_NODES.filter((n) => running(n) && holdsVip(net, n)).map(
    (n) => `node-${n}` as MemberName,
  );
  return { address: net.vip, holders };
}

/**
 * A `--vip` stack's two nodes: on each, in its namespace, a PgBouncer (PostgreSQL across the bridge) and an
 * HAProxy in front of both nodes' PgBouncers; keepalived on each, or Pacemaker (which runs the HAProxy on the
 * VIP's node only, as the seed's cluster does), gives one of them the VIP.
 */
export async function startVipNodes(
  cfg: StackConfig,
  paths: StackPaths,
  bins: Binaries,
  user: ServiceUser,
  secret: { password: string; verifier: string },
  log: (line: string) => void,
): Promise<void> {
  const net = vipNet(cfg.ports.postgres);
  const manager = vipManagerOf(cfg)!;
  const nodes = Object.values(net.nodes);
  writeOwned(paths.pgpass, pgpassFile(secret.password, [net.vip, ...nodes.map((n) => n.addr)]), 0o600);
  // keepalived and Pacemaker run scripts from here (as root; the alert agent as hacluster): no other user may
  // write it.
  makeDir(paths.vip.dir, undefined, 0o755);
  const bouncers = nodes.map((n) => `${n.addr}:${cfg.ports.pgbouncer1}`) as [string, string];
  if (manager === "keepalived") writeOwned(paths.vip.notify, vipNotifyScript(paths.vip.events), 0o755);
  else
    writeClusterFiles(cfg, paths, net, {
      bin: bins.haproxy!,
      // One config for whichever node runs it: it listens on every address there, the VIP's too.
      cfg: haproxyCfg(cfg, openFileLimit(), { listenAddr: "0.0.0.0", bouncers }),
    });
  for (const n of VIP_NODES) {
    const files = paths.node(n);
    const place = { listenAddr: net.nodes[n].addr, serverHost: net.hostAddr, bouncers };
    makeDir(files.dir, user, 0o700);
    writeOwned(files.pgbouncerIni, pgbouncerIni(cfg, paths, 1, 1, { ...place, files }), 0o600, user);
    writeOwned(files.userlist, pgbouncerUserlist(secret.verifier), 0o600, user);
    if (manager === "keepalived") {
      writeOwned(files.haproxyCfg, haproxyCfg(cfg, openFileLimit(), place), 0o600, user);
      // keepalived runs as root and refuses a config others may write.
      writeOwned(files.keepalivedConf, keepalivedConf(net, n, paths, cfg.ports.postgres), 0o600);
    }
    const what =
      manager === "keepalived" ? "pgbouncer, haproxy, keepalived" : "pgbouncer, corosync, pacemaker";
    log(`starting node-${n} (${net.nodes[n].netns}, ${net.nodes[n].addr}): ${what}`);
    await startMember(`node-${n}`, cfg, paths, bins, user);
  }
  // Pacemaker elects a DC, then starts the VIP and HAProxy after it: slower than VRRP.
  const limit = manager === "keepalived" ? 15 : 60;
  const deadline = Date.now() + limit * 1000;
  const serving = async () =>
    VIP_NODES.some((n) => holdsVip(net, n)) && (await portAnswers(cfg.ports.haproxy, net.vip));
  while (!(await serving()) && Date.now() < deadline) await sleep(100);
  const holder = VIP_NODES.find((n) => holdsVip(net, n));
  if (!holder || !(await serving()))
    throw new Error(`no node served on the VIP ${net.vip} within ${limit} s (see ${paths.vip.events})`);
  log(`VIP ${net.vip} on node-${holder}`);
}

/**
 * A `--vip pacemaker` node that was just started is back once Pacemaker has it online again (its own CIB up, its
 * controller joined); a keepalived node is back when its processes run.
 */
export async function vipNodeJoined(cfg: StackConfig, paths: StackPaths, name: MemberName): Promise<void> {
  const pid = vipManagerOf(cfg) === "pacemaker" ? clusterPid(cfg, paths, name) : undefined;
  if (pid === undefined) return;
  const deadline = Date.now() + 60_000;
  while (!nodeOnline(pid, name) && Date.now() < deadline) await sleep(250);
  if (!nodeOnline(pid, name))
    throw new Error(
      `${name} did not join the cluster within 60 s (see ${paths.vip.cluster(name === "node-a" ? "a" : "b").log})`,
    );
}

/**
 * `stack move NODE`, the seed's manual move. keepalived: the holder's keepalived restarts, giving the VIP away as
 * it stops and coming back as the backup (nopreempt). Pacemaker: `crm_resource --move` (as `pcs resource move`),
 * its constraint cleared once the VIP is there; stickiness keeps it.
 */
export async function stackMoveVip(dir: string, to: MemberName): Promise<void> {
  const paths = stackPaths(dir);
  const cfg = readStackConfig(paths);
  if (!cfg?.vip) throw new UsageError(`move needs a --vip stack, and the one in ${paths.dir} is not`);
  if (to !== "node-a" && to !== "node-b")
    throw new UsageError(`move names a node: node-a or node-b, not ${to}`);
  const members = membersOf(cfg).map((name) => memberStatus(cfg, paths, name));
  if (!fullyUp(members.find((m) => m.name === to)!))
    throw new UsageError(`${to} is not running: start it first`);
  const all = vipHolder(cfg, members).holders;
  const holders = all.filter((h) => h !== to);
  if (holders.length === 0 && all.includes(to)) throw new UsageError(`the VIP is already on ${to}`);
  const net = vipNet(cfg.ports.postgres);
  const n: VipNode = to === "node-a" ? "a" : "b";
  let cluster: number | undefined;
  if (vipManagerOf(cfg) === "pacemaker") {
    cluster = clusterPid(cfg, paths, holders[0] ?? to)!;
    moveGroup(cluster, to);
  } else {
    const bins = findBinaries(true, "keepalived");
    for (const h of holders) {
      await stopKeepalived(cfg, paths, h);
      await startMember(h, cfg, paths, bins, serviceUser());
    }
  }
  // Pacemaker stops HAProxy on the old node before it moves the VIP, and starts it on the new one after.
  const deadline = Date.now() + (cluster ? 30_000 : 10_000);
  const there = async () => holdsVip(net, n) && (await portAnswers(cfg.ports.haproxy, net.vip));
  let arrived: boolean;
  try {
    while (!(arrived = await there()) && Date.now() < deadline) await sleep(100);
  } finally {
    // The move's INFINITY preference would pull the VIP back to `to` whenever it came back: cleared whatever happened.
    if (cluster) clearMove(cluster);
  }
  if (!arrived) throw new Error(`${to} did not take the VIP in time (see ${paths.vip.events})`);
}
