import { randomBytes } from "node:crypto";
import { userInfo } from "node:os";
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";

import pg from "pg";
import { UsageError } from "../errors.js";
import {
  envFile,
  haproxyCfg,
  keepalivedConf,
  vipNotifyScript,
  pgbouncerIni,
  pgbouncerUserlist,
  pgHba,
  pgIdent,
  pgpassFile,
  postgresConf,
} from "./configs.js";
import {
  bouncerNodes,
  bouncerProcesses,
  bouncerProcs,
  DEFAULT_PORT_BASE,
  STACK_DB,
  STACK_USER,
  membersOf,
  portsFrom,
  readStackConfig,
  stackPaths,
  stackUris,
  type MemberName,
  type StackConfig,
  type StackPaths,
  type StackUris,
} from "./layout.js";
import {
  memberStatus,
  pidList,
  startMember,
  stopKeepalived,
  stopMember,
  type MemberStatus,
} from "./members.js";
import { scramVerifier } from "./scram.js";
import { ensureTls, tlsFiles } from "./tls.js";
import { assertPortFree, findBinaries, runAs, serviceUser, sleep, type ServiceUser } from "./system.js";
import {
  createVipNet,
  holdsVip,
  netnsUnavailable,
  removeVipNet,
  VIP_NODES,
  vipNet,
  type VipNode,
} from "./vip-net.js";

export interface UpOptions {
  dir: string;
  ha?: boolean;
  vip?: boolean;
  tls?: boolean;
  poolSize?: number;
  pgbouncerProcs?: number;
  maxConnections?: number;
  maxClientConn?: number;
  portBase?: number;
}

export interface StackStatus {
  dir: string;
  running: boolean;
  ha: boolean;
  /** PgBouncer processes per pooler node. */
  pgbouncerProcs: number;
  /**
   * `--vip`: the virtual IP and the running nodes that hold it now: one; none while it moves; two in a split
   * brain. A crashed node's interface may still carry it, but that node answers nobody.
   */
  vip?: { address: string; holders: MemberName[] };
  /** With --tls: the CA certificate clients verify against (sslrootcert). */
  tlsCa?: string;
  members: MemberStatus[];
  uris: StackUris;
  pgpassfile: string;
  envFile: string;
}

/** The soft open-file limit of this process (children inherit it). */
export function openFileLimit(): number {
  const line = readFileSync("/proc/self/limits", "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max open files"));
  const soft = line ? Number(line.split(/\s{2,}/)[1]) : NaN;
  return Number.isFinite(soft) ? soft : 1024;
}

export function writeOwned(path: string, text: string, mode: number, owner?: ServiceUser): void {
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
  if (owner?.switchUser) chownSync(path, owner.uid, owner.gid);
}

function makeDir(path: string, owner?: ServiceUser, mode = 0o755): void {
  mkdirSync(path, { recursive: true, mode });
  if (owner?.switchUser) chownSync(path, owner.uid, owner.gid);
}

/** The stack's password, generated once and kept 0600 in DIR/pgpass. */
function stackPassword(paths: StackPaths): string {
  if (existsSync(paths.pgpass)) {
    const fields = readFileSync(paths.pgpass, "utf8").split("\n")[0].split(":");
    if (fields.length === 5 && fields[4]) return fields[4];
  }
  const password = randomBytes(18).toString("base64url");
  writeOwned(paths.pgpass, pgpassFile(password), 0o600);
  return password;
}

/** Creates (or re-syncs) the login role and database over the unix socket, as the bootstrap superuser. */
async function bootstrapRole(cfg: StackConfig, paths: StackPaths, verifier: string): Promise<void> {
  const client = new pg.Client({
    host: paths.pgSocket,
    port: cfg.ports.postgres,
    user: "postgres",
    database: "postgres",
  });
  await client.connect();
  try {
    const role = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [STACK_USER]);
    // The server receives the SCRAM verifier, never the plaintext password. (Identifiers are constants.)
    const literal = client.escapeLiteral(verifier);
    const verb = role.rowCount ? "ALTER" : "CREATE";
    await client.query(`${verb} ROLE ${STACK_USER} LOGIN PASSWORD ${literal}`);
    await client.query(`GRANT pg_read_all_stats, pg_signal_backend TO ${STACK_USER}`);
    const db = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [STACK_DB]);
    if (!db.rowCount) await client.query(`CREATE DATABASE ${STACK_DB} OWNER ${STACK_USER}`);
  } finally {
    await client.end();
  }
  // pg_stat_statements is not a trusted extension: the superuser creates it in the stack's database.
  const inDb = new pg.Client({
    host: paths.pgSocket,
    port: cfg.ports.postgres,
    user: "postgres",
    database: STACK_DB,
  });
  await inDb.connect();
  try {
    await inDb.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  } finally {
    await inDb.end();
  }
}

function vipHolder(cfg: StackConfig, members: MemberStatus[]): NonNullable<StackStatus["vip"]> {
  const net = vipNet(cfg.ports.postgres);
  const running = (n: VipNode) => members.some((m) => m.name === `node-${n}` && m.state === "running");
  const holders = VIP_NODES.filter((n) => running(n) && holdsVip(net, n)).map(
    (n) => `node-${n}` as MemberName,
  );
  return { address: net.vip, holders };
}

/** Every process of the member is alive (a pooler node may have lost one of several). */
function fullyUp(m: MemberStatus): boolean {
  return m.state !== "down" && (m.pids?.length ?? 0) === m.procs;
}

export function stackStatus(dir: string): StackStatus {
  const paths = stackPaths(dir);
  const cfg = readStackConfig(paths);
  if (!cfg) throw new UsageError(`no stack in ${paths.dir}; start one with 'dcpbench stack up --dir ${dir}'`);
  const members = membersOf(cfg).map((name) => memberStatus(cfg, paths, name));
  return {
    dir: paths.dir,
    running: members.every(fullyUp),
    ha: cfg.ha,
    pgbouncerProcs: bouncerProcs(cfg),
    ...(cfg.vip ? { vip: vipHolder(cfg, members) } : {}),
    tlsCa: cfg.tls ? tlsFiles(paths.dir).caCert : undefined,
    members,
    uris: stackUris(cfg, paths),
    pgpassfile: paths.pgpass,
    envFile: paths.env,
  };
}

function sameShape(a: StackConfig, opts: UpOptions): boolean {
  return (
    (opts.ha === undefined || opts.ha === a.ha) &&
    (opts.vip === undefined || opts.vip === (a.vip ?? false)) &&
    (opts.tls === undefined || opts.tls === (a.tls ?? false)) &&
    (opts.portBase === undefined || opts.portBase === a.ports.postgres) &&
    (opts.poolSize === undefined || opts.poolSize === a.poolSize) &&
    (opts.pgbouncerProcs === undefined || opts.pgbouncerProcs === bouncerProcs(a)) &&
    (opts.maxConnections === undefined || opts.maxConnections === a.maxConnections) &&
    (opts.maxClientConn === undefined || opts.maxClientConn === a.maxClientConn)
  );
}

export type UpOutcome = { status: StackStatus; alreadyRunning: boolean };

/** `stack up`: initdb on first use, (re)write every config, start every member, wait until each answers. */
export async function stackUp(opts: UpOptions, log: (line: string) => void = () => {}): Promise<UpOutcome> {
  const paths = stackPaths(opts.dir);
  const previous = readStackConfig(paths);
  if (previous) {
    const members = membersOf(previous).map((name) => memberStatus(previous, paths, name));
    const up = members.filter((m) => m.state !== "down");
    if (members.every(fullyUp) && sameShape(previous, opts)) {
      return { status: stackStatus(opts.dir), alreadyRunning: true };
    }
    if (up.length > 0) {
      throw new UsageError(
        `a stack is already running in ${paths.dir} (${up.map((m) => `${m.name} pid ${m.pid}`).join(", ")}); ` +
          `use 'stack start NAME' for a stopped member or 'stack down' first to change its options`,
      );
    }
  }

  const cfg: StackConfig = {
    version: 1,
    ha: opts.ha ?? previous?.ha ?? false,
    vip: opts.vip ?? previous?.vip ?? false,
    tls: opts.tls ?? previous?.tls ?? false,
    poolSize: opts.poolSize ?? previous?.poolSize ?? 64,
    pgbouncerProcs: opts.pgbouncerProcs ?? previous?.pgbouncerProcs ?? 1,
    maxConnections: opts.maxConnections ?? previous?.maxConnections ?? 2000,
    maxClientConn: opts.maxClientConn ?? previous?.maxClientConn ?? 10_000,
    ports: portsFrom(opts.portBase ?? previous?.ports.postgres ?? DEFAULT_PORT_BASE),
    serviceUser: "",
  };
  if (bouncerProcs(cfg) > cfg.poolSize)
    throw new UsageError(
      `--pgbouncer-procs ${bouncerProcs(cfg)} must not exceed the pool size (${cfg.poolSize}): each process needs a server connection`,
    );
  if (cfg.vip) {
    if (cfg.ha)
      throw new UsageError("--vip and --ha are two layouts: give one (--vip has HAProxy on both nodes)");
    if (bouncerProcs(cfg) > 1)
      throw new UsageError("--vip runs one PgBouncer process per node: drop --pgbouncer-procs");
    const why = netnsUnavailable();
    if (why) throw new UsageError(why);
  }
  const bins = findBinaries(cfg.ha || !!cfg.vip, !!cfg.vip);
  const user = serviceUser();
  cfg.serviceUser = user.name;
  const members = membersOf(cfg);
  const portNames: Record<MemberName, Array<[number, string]>> = {
    postgres: [[cfg.ports.postgres, "postgres"]],
    "pgbouncer-1": [[cfg.ports.pgbouncer1, "pgbouncer-1"]],
    "pgbouncer-2": [[cfg.ports.pgbouncer2, "pgbouncer-2"]],
    haproxy: [
      [cfg.ports.haproxy, "haproxy"],
      [cfg.ports.haproxyStats, "haproxy stats"],
    ],
    // A node's ports are in its own namespace.
    "node-a": [],
    "node-b": [],
  };
  for (const name of members) for (const [port, what] of portNames[name]) await assertPortFree(port, what);

  makeDir(paths.dir);
  makeDir(`${paths.dir}/postgres`, user, 0o700);
  try {
    runAs(user, "test", ["-w", `${paths.dir}/postgres`]);
  } catch {
    throw new UsageError(
      `user '${user.name}' cannot reach ${paths.dir} (a parent directory is not searchable by it); ` +
        `choose a --dir it can reach, e.g. --dir /var/tmp/dcpbench-stack`,
    );
  }
  // The config first: a stack up that fails or is killed part-way can still be brought down by it.
  writeOwned(paths.config, JSON.stringify(cfg, null, 2) + "\n", 0o644);
  try {
    await startAll(cfg, paths, bins, user, log);
  } catch (err) {
    await stackDown(opts.dir).catch(() => undefined);
    throw err;
  }
  writeOwned(paths.env, envFile(cfg, paths), 0o644);
  return { status: stackStatus(opts.dir), alreadyRunning: false };
}

/** initdb on first use, every member's config written, every member started and answering. */
async function startAll(
  cfg: StackConfig,
  paths: StackPaths,
  bins: ReturnType<typeof findBinaries>,
  user: ServiceUser,
  log: (line: string) => void,
): Promise<void> {
  const password = stackPassword(paths);
  const verifier = scramVerifier(password);

  if (!existsSync(`${paths.pgData}/PG_VERSION`)) {
    log(`initdb ${paths.pgData}`);
    runAs(user, bins.initdb, [
      "-D",
      paths.pgData,
      "-U",
      "postgres",
      "--auth-local=peer",
      "--auth-host=scram-sha-256",
      "--encoding=UTF8",
      "--locale=C",
      "--no-sync",
    ]);
    appendFileSync(`${paths.pgData}/postgresql.conf`, "\ninclude_if_exists = 'dcpbench.conf'\n");
  }
  makeDir(paths.pgSocket, user, 0o700);
  if (cfg.tls) ensureTls(paths.dir, user);
  writeOwned(paths.pgConf, postgresConf(cfg, paths), 0o600, user);
  writeOwned(`${paths.pgData}/pg_hba.conf`, pgHba(cfg), 0o600, user);
  writeOwned(`${paths.pgData}/pg_ident.conf`, pgIdent([userInfo().username, user.name]), 0o600, user);

  // The nodes' network first: PostgreSQL listens on the bridge's address too.
  if (cfg.vip) {
    const net = vipNet(cfg.ports.postgres);
    log(
      `creating the nodes' network: bridge ${net.bridge} ${net.hostAddr}, namespaces ${net.nodes.a.netns}, ${net.nodes.b.netns}`,
    );
    createVipNet(net);
  }
  log(`starting postgres on 127.0.0.1:${cfg.ports.postgres}`);
  await startMember("postgres", cfg, paths, bins, user);
  await bootstrapRole(cfg, paths, verifier);
  if (cfg.vip) {
    await startVipNodes(cfg, paths, bins, user, { password, verifier }, log);
    return;
  }
  await startBouncers(cfg, paths, bins, user, { password, verifier }, log);
  if (cfg.ha) {
    makeDir(paths.haproxy.dir, user, 0o700);
    writeOwned(paths.haproxy.cfg, haproxyCfg(cfg, openFileLimit()), 0o600, user);
    log(`starting haproxy on 127.0.0.1:${cfg.ports.haproxy}`);
    await startMember("haproxy", cfg, paths, bins, user);
  }
}

/** Every PgBouncer process's files written (and the pgpass lines for their sockets), then each node started. */
async function startBouncers(
  cfg: StackConfig,
  paths: StackPaths,
  bins: ReturnType<typeof findBinaries>,
  user: ServiceUser,
  secret: { password: string; verifier?: string },
  log: (line: string) => void,
): Promise<void> {
  // Several PgBouncer processes per node are reached one by one through their socket directories.
  const procs = bouncerProcs(cfg);
  const sockets = procs > 1 ? bouncerProcesses(cfg).map((p) => paths.bouncer(p.n, p.k).socket) : [];
  writeOwned(paths.pgpass, pgpassFile(secret.password, sockets), 0o600);
  for (const { n, port } of bouncerNodes(cfg)) {
    const b = paths.bouncer(n);
    makeDir(b.dir, user, 0o700);
    for (let k = 1; k <= procs; k++) {
      if (procs > 1) makeDir(paths.bouncer(n, k).socket, user, 0o700);
      writeOwned(paths.bouncer(n, k).ini, pgbouncerIni(cfg, paths, n, k), 0o600, user);
    }
    // PgBouncer logs in to PostgreSQL with the client's SCRAM keys: its verifier must be the server's, salt and all.
    if (secret.verifier) writeOwned(b.userlist, pgbouncerUserlist(secret.verifier), 0o600, user);
    log(
      `starting pgbouncer-${n} on 127.0.0.1:${port}${procs > 1 ? ` (${procs} processes, so_reuseport)` : ""}`,
    );
    await startMember(`pgbouncer-${n}`, cfg, paths, bins, user);
  }
}

/**
 * A `--vip` stack's two nodes: on each, in its namespace, a PgBouncer (PostgreSQL across the bridge), an HAProxy
 * in front of both nodes' PgBouncers, and keepalived, which gives one of them the VIP.
 */
async function startVipNodes(
  cfg: StackConfig,
  paths: StackPaths,
  bins: ReturnType<typeof findBinaries>,
  user: ServiceUser,
  secret: { password: string; verifier: string },
  log: (line: string) => void,
): Promise<void> {
  const net = vipNet(cfg.ports.postgres);
  const nodes = Object.values(net.nodes);
  writeOwned(paths.pgpass, pgpassFile(secret.password, [net.vip, ...nodes.map((n) => n.addr)]), 0o600);
  // keepalived runs the notify script only from a path no other user can write.
  makeDir(paths.vip.dir, undefined, 0o755);
  writeOwned(paths.vip.notify, vipNotifyScript(paths.vip.events), 0o755);
  const bouncers = nodes.map((n) => `${n.addr}:${cfg.ports.pgbouncer1}`) as [string, string];
  for (const n of VIP_NODES) {
    const files = paths.node(n);
    const place = { listenAddr: net.nodes[n].addr, serverHost: net.hostAddr, bouncers, files };
    makeDir(files.dir, user, 0o700);
    writeOwned(files.pgbouncerIni, pgbouncerIni(cfg, paths, 1, 1, place), 0o600, user);
    writeOwned(files.userlist, pgbouncerUserlist(secret.verifier), 0o600, user);
    writeOwned(files.haproxyCfg, haproxyCfg(cfg, openFileLimit(), place), 0o600, user);
    // keepalived runs as root and refuses a config others may write.
    writeOwned(files.keepalivedConf, keepalivedConf(net, n, paths, cfg.ports.postgres), 0o600);
    log(`starting node-${n} (${net.nodes[n].netns}, ${net.nodes[n].addr}): pgbouncer, haproxy, keepalived`);
    await startMember(`node-${n}`, cfg, paths, bins, user);
  }
  const deadline = Date.now() + 15_000;
  while (!VIP_NODES.some((n) => holdsVip(net, n)) && Date.now() < deadline) await sleep(100);
  const holder = VIP_NODES.find((n) => holdsVip(net, n));
  if (!holder) throw new Error(`no node took the VIP ${net.vip} within 15 s (see ${paths.vip.events})`);
  log(`VIP ${net.vip} on node-${holder}`);
}

/**
 * Restarts the stack's PgBouncers with N processes per node (a sweep over --pgbouncer-procs): every client of
 * theirs is cut off, PostgreSQL and HAProxy stay up. stack.json records N, so `stack down` finds them all.
 */
export async function setStackPgbouncerProcs(dir: string, procs: number): Promise<void> {
  const paths = stackPaths(dir);
  const old = readStackConfig(paths);
  if (!old)
    throw new UsageError(
      `--pgbouncer-procs changes the local stack's PgBouncer, and there is none in ${dir}`,
    );
  if (bouncerProcs(old) === procs && membersOf(old).every((m) => fullyUp(memberStatus(old, paths, m))))
    return;
  for (const { n } of bouncerNodes(old)) await stopMember(old, paths, `pgbouncer-${n}`);
  const cfg: StackConfig = { ...old, pgbouncerProcs: procs };
  writeOwned(paths.config, JSON.stringify(cfg, null, 2) + "\n", 0o644);
  await startBouncers(
    cfg,
    paths,
    findBinaries(cfg.ha),
    serviceUser(),
    { password: stackPassword(paths) },
    () => {},
  );
  writeOwned(paths.env, envFile(cfg, paths), 0o644);
}

/** `stack start NAME`: starts one member of an existing stack with its existing config. */
export async function stackStartMember(dir: string, name: MemberName): Promise<MemberStatus> {
  const paths = stackPaths(dir);
  const cfg = readStackConfig(paths);
  if (!cfg) throw new UsageError(`no stack in ${paths.dir}; start one with 'dcpbench stack up'`);
  if (!membersOf(cfg).includes(name)) {
    throw new UsageError(`${name} is not a member of this stack (members: ${membersOf(cfg).join(", ")})`);
  }
  const status = memberStatus(cfg, paths, name);
  if (fullyUp(status)) throw new UsageError(`${name} is already running (${pidList(status.pids ?? [])})`);
  await startMember(name, cfg, paths, findBinaries(cfg.ha || !!cfg.vip, !!cfg.vip), serviceUser());
  return memberStatus(cfg, paths, name);
}

/**
 * `stack move NODE`, the seed's manual move (`pcs resource move`): the holder's keepalived restarts, giving the
 * VIP away as it stops and coming back as the backup (nopreempt), so the VIP ends on NODE.
 */
export async function stackMoveVip(dir: string, to: MemberName): Promise<void> {
  const paths = stackPaths(dir);
  const cfg = readStackConfig(paths);
  if (!cfg?.vip) throw new UsageError(`move needs a --vip stack, and the one in ${paths.dir} is not`);
  const status = stackStatus(dir);
  const target = status.members.find((m) => m.name === to);
  if (!target || !to.startsWith("node-"))
    throw new UsageError(`move names a node: node-a or node-b, not ${to}`);
  if (!fullyUp(target)) throw new UsageError(`${to} is not running: start it first`);
  const holders = status.vip!.holders.filter((h) => h !== to);
  if (holders.length === 0 && status.vip!.holders.includes(to))
    throw new UsageError(`the VIP is already on ${to}`);
  const bins = findBinaries(true, true);
  for (const h of holders) {
    await stopKeepalived(cfg, paths, h);
    await startMember(h, cfg, paths, bins, serviceUser());
  }
  const net = vipNet(cfg.ports.postgres);
  const n = to === "node-a" ? "a" : "b";
  const deadline = Date.now() + 10_000;
  while (!holdsVip(net, n) && Date.now() < deadline) await sleep(100);
  if (!holdsVip(net, n)) throw new Error(`${to} did not take the VIP within 10 s (see ${paths.vip.events})`);
}

/** `stack down`: stops every member by its recorded pid, front to back; DIR stays reusable. */
export async function stackDown(dir: string): Promise<MemberName[]> {
  const paths = stackPaths(dir);
  const cfg = readStackConfig(paths);
  if (!cfg) throw new UsageError(`no stack in ${paths.dir}`);
  const stopped: MemberName[] = [];
  for (const name of [...membersOf(cfg)].reverse()) {
    if (memberStatus(cfg, paths, name).state === "down") continue;
    await stopMember(cfg, paths, name);
    stopped.push(name);
  }
  // Also after a `stack up --vip` that was killed part-way: whatever of the network exists goes.
  if (cfg.vip) await removeVipNet(vipNet(cfg.ports.postgres));
  return stopped;
}
