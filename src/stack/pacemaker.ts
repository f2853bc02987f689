import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { UsageError } from "../errors.js";
import { makeDir, writeOwned } from "./files.js";
import type { StackConfig, StackPaths } from "./layout.js";
import { accountNamed, OCF_AGENTS, runAs, type ServiceUser } from "./system.js";
import { VIP_NODES, type VipNet, type VipNode } from "./vip-net.js";

/**
 * `--vip pacemaker`: the seed's own cluster manager. Corosync (knet, two_node) and Pacemaker run in each node's
 * network namespace and a mount namespace of its own: libqb's IPC lives in /dev/shm and /run, the CIB in
 * /var/lib/pacemaker, and two nodes on one machine must not share them.
 */

/** The account Pacemaker's daemons and alert agents run as (Debian's pacemaker package creates it). */
function hacluster(): ServiceUser {
  const user = accountNamed("hacluster");
  if (!user) throw new Error("user 'hacluster' does not exist (apt-get install -y pacemaker creates it)");
  return { ...user, switchUser: process.getuid?.() === 0 };
}

function canWrite(user: ServiceUser, path: string): boolean {
  try {
    runAs(user, "test", ["-w", path]);
    return true;
  } catch {
    return false;
  }
}

const xml = (v: string | number): string =>
  String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const nvpairs = (id: string, pairs: Record<string, string | number>): string =>
  Object.entries(pairs)
    .map(([name, value]) => `<nvpair id="${id}-${name}" name="${name}" value="${xml(value)}"/>`)
    .join("");

/** corosync.conf: the two nodes by their bridge addresses, knet unencrypted, two_node quorum, default timeouts. */
export function corosyncConf(net: VipNet, portBase: number): string {
  const node = (n: VipNode, id: number) =>
    `  node {\n    ring0_addr: ${net.nodes[n].addr}\n    name: node-${n}\n    nodeid: ${id}\n  }`;
  return [
    "# written by dcpbench stack up; edits are overwritten",
    "totem {",
    "  version: 2",
    `  cluster_name: dcpbench-${portBase}`,
    "  transport: knet",
    "  crypto_cipher: none",
    "  crypto_hash: none",
    "}",
    "nodelist {",
    node("a", 1),
    node("b", 2),
    "}",
    "quorum {",
    "  provider: corosync_votequorum",
    // A two-node cluster keeps quorum when one node is lost (the seed sets no-quorum-policy=ignore too).
    "  two_node: 1",
    "}",
    "logging {",
    "  to_logfile: yes",
    "  logfile: /var/log/corosync.log",
    "  to_syslog: no",
    "  to_stderr: no",
    "  timestamp: on",
    "}",
    "",
  ].join("\n");
}

/**
 * A node's start script, run by root inside the node's network namespace and a new mount namespace: the node's
 * own /dev/shm, /run, /var/lib/pacemaker, /var/lib/corosync and /var/log, then corosync and pacemakerd. SIGTERM
 * is a graceful stop (Pacemaker moves its resources away, then corosync leaves); the script's pid stands for
 * the node's cluster stack.
 */
export function clusterScript(paths: StackPaths, n: VipNode): string {
  const c = paths.vip.cluster(n);
  return [
    "#!/bin/sh",
    "# written by dcpbench stack up; edits are overwritten",
    // The trap first: a stop that comes while corosync starts still stops both, and waits for corosync to go.
    "PM=",
    "stop() {",
    "  trap - TERM INT; set +e",
    '  [ -n "$PM" ] && kill -TERM $PM 2>/dev/null && wait $PM',
    "  CS=$(cat /run/corosync.pid 2>/dev/null)",
    "  corosync-cfgtool -H --force >/dev/null 2>&1",
    '  i=0; while [ -n "$CS" ] && kill -0 "$CS" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done',
    "  exit 0",
    "}",
    "trap stop TERM INT",
    "set -e",
    `echo $$ > '${c.pid}'`,
    "mount -t tmpfs tmpfs /dev/shm",
    "mount -t tmpfs tmpfs /run",
    "mkdir -p /run/corosync /run/pacemaker /run/crm /run/resource-agents",
    "chown hacluster:haclient /run/pacemaker /run/crm",
    `mount --bind '${c.libPacemaker}' /var/lib/pacemaker`,
    `mount --bind '${c.libCorosync}' /var/lib/corosync`,
    `mount --bind '${c.log}' /var/log`,
    "set +e",
    `corosync -c '${paths.vip.corosyncConf}' || exit 1`,
    "pacemakerd &",
    "PM=$!",
    "wait $PM",
    "stop",
    "",
  ].join("\n");
}

/**
 * Pacemaker's alert agent (run as hacluster on every node): one line per membership change, fencing, and start
 * or stop of the VIP or HAProxy, with Pacemaker's own timestamp: epoch seconds, node, what happened.
 */
export function alertScript(events: string): string {
  return [
    "#!/bin/sh",
    "# written by dcpbench stack up; edits are overwritten",
    'case "$CRM_alert_kind" in',
    '  node) what="$CRM_alert_desc" ;;',
    '  fencing) what=fenced; [ "$CRM_alert_rc" = 0 ] || what=fencing-failed ;;',
    "  resource)",
    '    case "$CRM_alert_rsc:$CRM_alert_task" in',
    '      vip:start | vip:stop | haproxy:start | haproxy:stop) what="$CRM_alert_rsc-$CRM_alert_task" ;;',
    '      vip:monitor | haproxy:monitor) [ "$CRM_alert_desc" = Cancelled ] && exit 0; what="$CRM_alert_rsc-monitor" ;;',
    "      *) exit 0 ;;",
    "    esac",
    '    [ "$CRM_alert_rc" = 0 ] || what="$what-failed" ;;',
    "  *) exit 0 ;;",
    "esac",
    `echo "$CRM_alert_timestamp $CRM_alert_node $what" >> '${events}'`,
    "",
  ].join("\n");
}

/**
 * The cluster's configuration, written as each node's first CIB (a shorter dc-deadtime than the default 20 s lets
 * the pair elect a DC soon after `stack up`): the seed's resources — the VIP (IPaddr2, monitor 30 s) and HAProxy
 * colocated with it and started after it (a group), fence_dummy for both nodes, no-quorum-policy=ignore — with
 * stickiness, so a node that comes back does not take the VIP back, and node-a preferred at the start.
 */
export function cibXml(cfg: StackConfig, paths: StackPaths, net: VipNet, haproxyBin: string): string {
  const [ipaddr2, anything] = OCF_AGENTS.map((a) => a.split("/").pop()!);
  return [
    '<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">',
    "<configuration>",
    '<crm_config><cluster_property_set id="options">',
    nvpairs("options", {
      "cluster-name": `dcpbench-${cfg.ports.postgres}`,
      "dc-deadtime": "2s",
      "no-quorum-policy": "ignore",
      "stonith-enabled": "true",
    }),
    "</cluster_property_set></crm_config>",
    `<nodes>${VIP_NODES.map((n, i) => `<node id="${i + 1}" uname="node-${n}"/>`).join("")}</nodes>`,
    "<resources>",
    '<primitive id="fence" class="stonith" type="fence_dummy"><instance_attributes id="fence-ia">',
    nvpairs("fence", { pcmk_host_list: "node-a node-b", status_file: paths.vip.fenceStatus }),
    "</instance_attributes></primitive>",
    '<group id="pooler">',
    `<primitive id="vip" class="ocf" provider="heartbeat" type="${ipaddr2}"><instance_attributes id="vip-ia">`,
    nvpairs("vip", { ip: net.vip, cidr_netmask: 24, nic: "eth0" }),
    '</instance_attributes><operations><op id="vip-monitor" name="monitor" interval="30s"/></operations></primitive>',
    `<primitive id="haproxy" class="ocf" provider="heartbeat" type="${anything}"><instance_attributes id="haproxy-ia">`,
    nvpairs("haproxy", {
      binfile: haproxyBin,
      cmdline_options: `-db -f ${paths.vip.haproxyCfg}`,
      errlogfile: "/var/log/haproxy.err",
    }),
    '</instance_attributes><operations><op id="haproxy-monitor" name="monitor" interval="10s"/></operations></primitive>',
    "</group>",
    "</resources>",
    '<constraints><rsc_location id="pooler-starts-on-node-a" rsc="pooler" node="node-a" score="50"/></constraints>',
    '<rsc_defaults><meta_attributes id="rsc-defaults">',
    nvpairs("rsc-defaults", { "resource-stickiness": 100 }),
    "</meta_attributes></rsc_defaults>",
    `<alerts><alert id="dcpbench" path="${xml(paths.vip.alert)}"><meta_attributes id="alert-meta">`,
    nvpairs("alert", { "timestamp-format": "%s.%06N" }),
    "</meta_attributes></alert></alerts>",
    "</configuration>",
    "<status/>",
    "</cib>",
    "",
  ].join("\n");
}

/**
 * Every file of a Pacemaker pair, each node's state from an earlier stack wiped: the cluster starts from the
 * configuration above, as a freshly installed pair would.
 */
export function writeClusterFiles(
  cfg: StackConfig,
  paths: StackPaths,
  net: VipNet,
  haproxy: { bin: string; cfg: string },
): void {
  const ha = hacluster();
  writeOwned(paths.vip.corosyncConf, corosyncConf(net, cfg.ports.postgres), 0o644);
  writeOwned(paths.vip.alert, alertScript(paths.vip.events), 0o755);
  // The alert agent runs as hacluster and appends here.
  writeOwned(paths.vip.events, "", 0o644, ha);
  if (ha.switchUser && !canWrite(ha, paths.vip.events))
    throw new UsageError(
      `user 'hacluster' (Pacemaker's alert agent) cannot reach ${paths.vip.events}; choose a --dir it can reach, e.g. /var/tmp/dcpbench-stack`,
    );
  writeOwned(paths.vip.haproxyCfg, haproxy.cfg, 0o600);
  for (const n of VIP_NODES) {
    const c = paths.vip.cluster(n);
    rmSync(c.dir, { recursive: true, force: true });
    makeDir(c.dir);
    writeOwned(c.script, clusterScript(paths, n), 0o755);
    for (const sub of ["cib", "pengine", "blackbox", "cores"]) makeDir(`${c.libPacemaker}/${sub}`, ha, 0o750);
    makeDir(c.libPacemaker, ha, 0o750);
    makeDir(c.libCorosync, undefined, 0o700);
    makeDir(`${c.log}/pacemaker`, ha, 0o750);
    writeOwned(`${c.libPacemaker}/cib/cib.xml`, cibXml(cfg, paths, net, haproxy.bin), 0o600, ha);
  }
}

/** Runs a Pacemaker command inside the namespaces of a node's cluster stack (by its start script's pid). */
export function crmIn(clusterPid: number, cmd: string, args: string[]): string {
  try {
    return execFileSync("nsenter", ["-t", String(clusterPid), "-m", "-n", cmd, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30_000,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

/** Whether Pacemaker, as this node sees it, has the node online (its controller joined the cluster). */
export function nodeOnline(clusterPid: number, node: string): boolean {
  try {
    const status = crmIn(clusterPid, "crm_mon", ["--one-shot", "--output-as=xml"]);
    return new RegExp(`<node name="${node}"[^>]* online="true"`).test(status);
  } catch {
    // Its CIB not up yet.
    return false;
  }
}

/** `crm_resource --move`, the seed's `pcs resource move`: the VIP's group to `to`. */
export function moveGroup(clusterPid: number, to: string): void {
  crmIn(clusterPid, "crm_resource", ["--move", "--resource", "pooler", "--node", to]);
}

/** Removes the move's location constraint once the group is there (pcs resource move does it too). */
export function clearMove(clusterPid: number): void {
  crmIn(clusterPid, "crm_resource", ["--clear", "--resource", "pooler"]);
}
