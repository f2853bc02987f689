import { randomBytes } from "node:crypto";
import { userInfo } from "node:os";
import { appendFileSync, existsSync, readFileSync } from "node:fs";

import pg from "pg";
import { UsageError } from "../errors.js";
import {
  envFile,
  haproxyCfg,
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
  vipManagerOf,
  type MemberName,
  type StackConfig,
  type StackPaths,
  type StackUris,
  type VipManager,
} from "./layout.js";
import { makeDir, openFileLimit, writeOwned } from "./files.js";
import { fullyUp, memberStatus, pidList, startMember, stopMember, type MemberStatus } from "./members.js";
import { scramVerifier } from "./scram.js";
import { ensureTls, tlsFiles } from "./tls.js";
import { assertPortFree, findBinaries, runAs, serviceUser, type ServiceUser } from "./system.js";
import { createVipNet, netnsUnavailable, removeVipNet, vipNet } from "./vip-net.js";
import { startVipNodes, vipHolder, vipNodeJoined } from "./vip-nodes.js";

export interface UpOptions {
  dir: string;
  ha?: boolean;
  vip?: boolean;
  /** What moves a `--vip` stack's VIP [keepalived]. */
  vipManager?: VipManager;
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
    (opts.vipManager === undefined || opts.vipManager === vipManagerOf(a)) &&
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
    vipManager: opts.vipManager ?? previous?.vipManager,
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
    // keepalived and Pacemaker run scripts that name files in it, as root.
    if (!/^[\w./-]+$/.test(paths.dir))
      throw new UsageError(
        `--vip runs scripts as root that name files in the stack directory: its path must be plain (letters, digits, . _ - /), not ${JSON.stringify(paths.dir)}`,
      );
  }
  if (!cfg.vip) delete cfg.vipManager;
  const bins = findBinaries(cfg.ha || !!cfg.vip, vipManagerOf(cfg));
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
  await startMember(name, cfg, paths, findBinaries(cfg.ha || !!cfg.vip, vipManagerOf(cfg)), serviceUser());
  await vipNodeJoined(cfg, paths, name);
  return memberStatus(cfg, paths, name);
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
