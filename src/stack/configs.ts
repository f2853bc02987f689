import {
  bouncerProcs,
  STACK_DB,
  STACK_USER,
  stackUris,
  type StackConfig,
  type StackPaths,
} from "./layout.js";
import { tlsFiles } from "./tls.js";
import { vipNet, type VipNet, type VipNode } from "./vip-net.js";

/** postgresql.conf additions, included from postgresql.conf and rewritten on every `stack up`. */
export function postgresConf(cfg: StackConfig, paths: StackPaths): string {
  return [
    "# written by dcpbench stack up; edits are overwritten",
    // A --vip stack's nodes reach PostgreSQL over its bridge.
    `listen_addresses = '127.0.0.1${cfg.vip ? `,${vipNet(cfg.ports.postgres).hostAddr}` : ""}'`,
    `port = ${cfg.ports.postgres}`,
    `max_connections = ${cfg.maxConnections}`,
    `unix_socket_directories = '${paths.pgSocket}'`,
    "password_encryption = 'scram-sha-256'",
    // 2000 backends need more lock slots than the default 64 per backend would give a busy schema.
    "max_locks_per_transaction = 128",
    // What the database paid per run (dcpbench's server-side samplers): statement times, I/O and WAL timings.
    "shared_preload_libraries = 'pg_stat_statements'",
    "pg_stat_statements.track = top",
    "track_io_timing = on",
    "track_wal_io_timing = on",
    ...(cfg.tls
      ? [
          "ssl = on",
          `ssl_cert_file = '${tlsFiles(paths.dir).serverCert}'`,
          `ssl_key_file = '${tlsFiles(paths.dir).serverKey}'`,
        ]
      : ["ssl = off"]),
    "",
  ].join("\n");
}

/**
 * pg_hba.conf, rewritten on every `stack up`: over the unix socket only the bootstrap superuser, and only as the
 * OS users that run the stack (peer, mapped in pgIdent); every other login over loopback TCP with SCRAM.
 */
export function pgHba(cfg?: StackConfig): string {
  const bridge = cfg?.vip ? vipNet(cfg.ports.postgres).hostAddr.replace(/\.1$/, ".0/24") : undefined;
  return [
    "# written by dcpbench stack up; edits are overwritten",
    "# TYPE  DATABASE  USER      ADDRESS        METHOD",
    "local   all       postgres                 peer map=dcpbench",
    "host    all       all       127.0.0.1/32   scram-sha-256",
    ...(bridge ? [`host    all       all       ${bridge}   scram-sha-256`] : []),
    "",
  ].join("\n");
}

/** pg_ident.conf: the OS users allowed to be the bootstrap superuser over the socket (the CLI's, the server's). */
export function pgIdent(osUsers: string[]): string {
  return [
    "# written by dcpbench stack up; edits are overwritten",
    ...[...new Set(osUsers)].map((u) => `dcpbench  ${u}  postgres`),
    "",
  ].join("\n");
}

/**
 * Each process's share of a node's pool, as the seed's start script splits it (rounded up): a node's server
 * connections stay about the pool size however many processes serve it.
 */
export function processPoolSize(cfg: StackConfig): number {
  return Math.ceil(cfg.poolSize / bouncerProcs(cfg));
}

/**
 * PgBouncer in transaction pooling mode, scram-sha-256 for clients, the stack user as admin and stats user.
 * Process k of a node with several (--pgbouncer-procs) shares its port through so_reuseport, as the seed's
 * template sets it, and has its own pidfile, log and socket directory.
 */
export function pgbouncerIni(cfg: StackConfig, paths: StackPaths, n: 1 | 2, k = 1, node?: NodePlace): string {
  const b = node
    ? {
        ...paths.bouncer(n, k),
        pid: node.files.pgbouncerPid,
        log: node.files.pgbouncerLog,
        userlist: node.files.userlist,
      }
    : paths.bouncer(n, k);
  const several = bouncerProcs(cfg) > 1;
  const pool = processPoolSize(cfg);
  const server = node?.serverHost ?? "127.0.0.1";
  return [
    "; written by dcpbench stack up; edits are overwritten",
    "[databases]",
    `${STACK_DB} = host=${server} port=${cfg.ports.postgres} dbname=${STACK_DB}`,
    `* = host=${server} port=${cfg.ports.postgres}`,
    "",
    "[pgbouncer]",
    `listen_addr = ${node?.listenAddr ?? "127.0.0.1"}`,
    `listen_port = ${n === 1 ? cfg.ports.pgbouncer1 : cfg.ports.pgbouncer2}`,
    ...(several ? ["so_reuseport = 1", `unix_socket_dir = ${b.socket}`] : ["unix_socket_dir ="]),
    "auth_type = scram-sha-256",
    `auth_file = ${b.userlist}`,
    "pool_mode = transaction",
    `default_pool_size = ${pool}`,
    // As the seed's PgBouncers: the database's server connections capped at the pool size, and a client may
    // wait in the queue as long as the load lasts (the default 120 s would cancel it: the seed turns that off).
    `max_db_connections = ${pool}`,
    "query_wait_timeout = 0",
    "min_pool_size = 0",
    "reserve_pool_size = 0",
    `max_client_conn = ${cfg.maxClientConn}`,
    "listen_backlog = 4096",
    `admin_users = ${STACK_USER}`,
    `stats_users = ${STACK_USER}`,
    "ignore_startup_parameters = extra_float_digits",
    // After a failed server login (PostgreSQL restarting), retry after 1 s, not the default 15 s: fault tests
    // measure PostgreSQL's downtime, not PgBouncer's back-off.
    "server_login_retry = 1",
    "server_tls_sslmode = disable",
    // With --tls, clients may use TLS to PgBouncer (verify-full against DIR/tls/ca.crt); plain still works.
    ...(cfg.tls
      ? [
          "client_tls_sslmode = prefer",
          `client_tls_cert_file = ${tlsFiles(paths.dir).serverCert}`,
          `client_tls_key_file = ${tlsFiles(paths.dir).serverKey}`,
        ]
      : []),
    `pidfile = ${b.pid}`,
    `logfile = ${b.log}`,
    "log_connections = 0",
    "log_disconnections = 0",
    "",
  ].join("\n");
}

/** PgBouncer's auth_file: the user with its SCRAM verifier (never the plaintext password). */
export function pgbouncerUserlist(verifier: string): string {
  return `"${STACK_USER}" "${verifier}"\n`;
}

/** Where a `--vip` node's PgBouncer or HAProxy runs: inside its namespace, PostgreSQL across the bridge. */
export interface NodePlace {
  listenAddr: string;
  serverHost: string;
  /** Both nodes' PgBouncers, host:port, for the node's HAProxy. */
  bouncers: [string, string];
  files: ReturnType<StackPaths["node"]>;
}

/**
 * HAProxy in TCP mode in front of the two PgBouncers, as in the seed's haproxy.cfg, with faster checks
 * (a dead bouncer leaves rotation within ~1 s) and redispatch, so a connection refused by a dead bouncer
 * is retried on the other one before the health check has noticed. On a `--vip` node: in front of both
 * nodes' PgBouncers, listening on every address of its namespace (the VIP's too, when it holds it).
 */
export function haproxyCfg(
  cfg: StackConfig,
  fdLimit: number,
  node?: Pick<NodePlace, "listenAddr" | "bouncers">,
): string {
  const maxconn = Math.max(256, Math.floor((fdLimit - 200) / 2));
  return [
    "# written by dcpbench stack up; edits are overwritten",
    "global",
    `    maxconn ${maxconn}`,
    "defaults",
    "    mode    tcp",
    `    maxconn ${maxconn}`,
    "    timeout connect 2s",
    // Benchmark clients may sit idle for a long think time; do not cut them.
    "    timeout client  1h",
    "    timeout server  1h",
    "    option  tcpka",
    "    retries 3",
    "    option  redispatch 1",
    "listen stats",
    `    bind ${node ? node.listenAddr : "127.0.0.1"}:${cfg.ports.haproxyStats}`,
    "    mode http",
    "    stats enable",
    "    stats uri /stats",
    "    stats refresh 5s",
    "frontend pgsql_in",
    `    bind ${node ? "0.0.0.0" : "127.0.0.1"}:${cfg.ports.haproxy}`,
    "    default_backend pgb_pool",
    "backend pgb_pool",
    "    mode tcp",
    "    balance leastconn",
    "    option  tcp-check",
    "    default-server inter 1s fastinter 250ms downinter 500ms fall 2 rise 2 on-marked-down shutdown-sessions",
    `    server pgb1 ${node ? node.bouncers[0] : `127.0.0.1:${cfg.ports.pgbouncer1}`} check`,
    `    server pgb2 ${node ? node.bouncers[1] : `127.0.0.1:${cfg.ports.pgbouncer2}`} check`,
    "",
  ].join("\n");
}

/** libpq password file: one line covers every port of the stack (PostgreSQL, PgBouncers, HAProxy). */
export function pgpassFile(password: string, hosts: string[] = []): string {
  return [`127.0.0.1`, ...hosts].map((host) => `${host}:*:*:${STACK_USER}:${password}\n`).join("");
}

/** A sourceable env file: URIs without password, plus PGPASSFILE so libpq, pg and dcpbench find it. */
export function envFile(cfg: StackConfig, paths: StackPaths): string {
  const uris = stackUris(cfg, paths);
  const lines: Array<[string, string | undefined]> = [
    ["DCPBENCH_STACK_DIR", paths.dir],
    ["PGPASSFILE", paths.pgpass],
    ["DIRECT_URI", uris.direct],
    ["POOLED_URI", uris.pooled],
    ["PGBOUNCER_ADMIN_URIS", uris.pgbouncerAdmin.join(",")],
    ["PGBOUNCER1_URI", uris.pgbouncer[0]],
    ["PGBOUNCER2_URI", uris.pgbouncer[1]],
    ["HAPROXY_URI", uris.haproxy],
    ["HAPROXY_STATS_URL", uris.haproxyStats],
  ];
  return (
    "# written by dcpbench stack up: source it to use the local stack from a shell\n" +
    lines
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `export ${k}='${v}'`)
      .join("\n") +
    "\n"
  );
}

/**
 * keepalived on a `--vip` node: VRRP over unicast to the other node (as the seed's docs switch Corosync to
 * unicast where multicast does not pass), advert_int 1, both nodes BACKUP with nopreempt, so a node that comes
 * back does not take the VIP back (a second move, which Pacemaker's stickiness avoids too). Every state change
 * runs the notify script, which records it with its time.
 */
export function keepalivedConf(net: VipNet, n: VipNode, paths: StackPaths, portBase: number): string {
  const self = net.nodes[n];
  const peer = net.nodes[n === "a" ? "b" : "a"];
  return [
    "# written by dcpbench stack up; edits are overwritten",
    "global_defs {",
    `  router_id dcpbench-${portBase}-${n}`,
    "  enable_script_security",
    "  script_user root",
    "}",
    "vrrp_instance dcpbench {",
    "  state BACKUP",
    "  nopreempt",
    "  interface eth0",
    `  virtual_router_id ${(portBase % 250) + 1}`,
    // Node a wins the first election; after that the VIP stays where it is until its holder goes.
    `  priority ${n === "a" ? 150 : 100}`,
    "  advert_int 1",
    `  unicast_src_ip ${self.addr}`,
    `  unicast_peer {`,
    `    ${peer.addr}`,
    "  }",
    "  virtual_ipaddress {",
    `    ${net.vip}/24 dev eth0`,
    "  }",
    `  notify "${paths.vip.notify} node-${n}"`,
    "}",
    "",
  ].join("\n");
}

/** The notify script: keepalived passes TYPE NAME STATE PRIORITY after the node's name. */
export function vipNotifyScript(events: string): string {
  return [
    "#!/bin/sh",
    "# written by dcpbench stack up: one line per keepalived state change (epoch seconds, node, state)",
    `echo "$(date +%s.%N) $1 $4" >> '${events}'`,
    "",
  ].join("\n");
}
