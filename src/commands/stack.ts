import type { Argv, CommandModule } from "yargs";
import { UsageError } from "../errors.js";
import { MAX_PGBOUNCER_PROCS, MEMBER_NAMES, type MemberName } from "../stack/layout.js";
import { isolateNode, powerOffNode, SIGNALS, signalMember, type SignalName } from "../stack/member-faults.js";
import { pidList } from "../stack/members.js";
import {
  stackDown,
  stackStartMember,
  stackStatus,
  stackUp,
  type StackStatus,
  type UpOptions,
} from "../stack/stack.js";
import { stackPaths, VIP_MANAGERS, type VipManager } from "../stack/layout.js";
import { stackMoveVip } from "../stack/vip-nodes.js";
import { defaultStackDir } from "../stack/default-dir.js";

function printStatus(status: StackStatus): void {
  for (const m of status.members) {
    const pids = m.pids?.length ? pidList(m.pids) : "";
    const procs = m.procs > 1 ? ` (${m.pids?.length ?? 0} of ${m.procs} processes)` : "";
    console.log(
      `  ${m.name.padEnd(12)} ${m.state.padEnd(8)} ${m.host ?? "127.0.0.1"}:${m.port} ${pids}${procs}`.trimEnd(),
    );
  }
  if (status.vip) {
    const h = status.vip.holders;
    const where =
      h.length === 0 ? "no running node" : h.length === 1 ? h[0] : `${h.join(" and ")} (split brain)`;
    console.log(`VIP ${status.vip.address} on ${where}`);
  }
  console.log(`DIRECT_URI=${status.uris.direct}`);
  console.log(`POOLED_URI=${status.uris.pooled}`);
  // One line per PgBouncer process: PGBOUNCER1_ADMIN_URI, or PGBOUNCER1_2_ADMIN_URI for node 1's second process.
  const procs = status.pgbouncerProcs;
  status.uris.pgbouncerAdmin.forEach((uri, i) => {
    const node = Math.floor(i / procs) + 1;
    const proc = procs > 1 ? `_${(i % procs) + 1}` : "";
    console.log(`PGBOUNCER${node}${proc}_ADMIN_URI=${uri}`);
  });
  if (status.uris.haproxyStats) console.log(`HAPROXY_STATS_URL=${status.uris.haproxyStats}`);
  if (status.tlsCa) console.log(`TLS: add ?sslmode=verify-full&sslrootcert=${status.tlsCa} to a URI`);
  console.log(`password: in ${status.pgpassfile} (PGPASSFILE); for a shell: source ${status.envFile}`);
}

function memberArg(value: string): MemberName {
  if (!(MEMBER_NAMES as readonly string[]).includes(value)) {
    throw new UsageError(`unknown stack member '${value}' (one of: ${MEMBER_NAMES.join(", ")})`);
  }
  return value as MemberName;
}

interface DirArgs {
  dir: string;
}

const dirOption = (y: Argv) =>
  y.option("dir", {
    type: "string",
    default: defaultStackDir(),
    describe: "stack directory (env DCPBENCH_STACK_DIR)",
  });

/** `--vip` alone means keepalived; `--vip pacemaker` the seed's cluster manager. */
function vipManagerArg(v: string | undefined): VipManager | undefined {
  if (v === undefined) return undefined;
  const manager = v === "" ? "keepalived" : v;
  if (!(VIP_MANAGERS as readonly string[]).includes(manager))
    throw new UsageError(`--vip takes ${VIP_MANAGERS.join(" or ")} (or nothing: keepalived), not '${v}'`);
  return manager as VipManager;
}

const upCommand: CommandModule<object, Omit<UpOptions, "vip" | "vipManager"> & { vip?: string }> = {
  command: "up",
  describe:
    "initdb (first time) and start PostgreSQL, PgBouncer (transaction mode) and, with --ha, HAProxy; with --vip, two pooler nodes and a VIP",
  builder: (a) =>
    dirOption(a)
      .option("ha", {
        type: "boolean",
        describe: "two PgBouncers behind HAProxy (leastconn, tcp-check)",
      })
      .option("vip", {
        type: "string",
        describe:
          "the seed's HA layer: two nodes in network namespaces with a PgBouncer each, HAProxy in front of both, one virtual IP moved by keepalived (--vip) or Pacemaker + Corosync (--vip pacemaker) (root)",
      })
      .option("pool-size", { type: "number", describe: "PgBouncer default_pool_size [default: 64]" })
      .option("pgbouncer-procs", {
        type: "number",
        describe:
          "PgBouncer processes per pooler, sharing its port (so_reuseport), the pool split between them [default: 1]",
      })
      .option("max-connections", {
        type: "number",
        describe: "PostgreSQL max_connections [default: 2000]",
      })
      .option("max-client-conn", {
        type: "number",
        describe: "PgBouncer max_client_conn [default: 10000]",
      })
      .option("port-base", {
        type: "number",
        describe: "postgres on P, pgbouncer-1 P+1, pgbouncer-2 P+2, haproxy P+3, stats P+4 [default: 16432]",
      })
      .example("$0 stack up --ha", "PostgreSQL, two PgBouncers and HAProxy")
      .example("$0 stack up --vip pacemaker", "the seed's two nodes, Pacemaker moving the VIP (root)")
      .example(
        "$0 stack up --pgbouncer-procs 2",
        "two PgBouncer processes on one port, 32 server connections each",
      ),
  handler: async (args) => {
    for (const [k, v] of Object.entries({
      "pool-size": args.poolSize,
      "pgbouncer-procs": args.pgbouncerProcs,
      "max-connections": args.maxConnections,
      "max-client-conn": args.maxClientConn,
      "port-base": args.portBase,
    })) {
      if (v !== undefined && (!Number.isInteger(v) || v <= 0))
        throw new UsageError(`--${k} must be a positive integer`);
    }
    if (args.pgbouncerProcs !== undefined && args.pgbouncerProcs > MAX_PGBOUNCER_PROCS)
      throw new UsageError(`--pgbouncer-procs must be at most ${MAX_PGBOUNCER_PROCS}`);
    if (args.portBase !== undefined && args.portBase + 4 > 65535)
      throw new UsageError("--port-base must be ≤ 65531");
    const { status, alreadyRunning } = await stackUp(
      {
        dir: args.dir,
        ha: args.ha,
        // --no-vip: yargs gives false.
        vip: args.vip === undefined ? undefined : (args.vip as unknown) !== false,
        vipManager: (args.vip as unknown) === false ? undefined : vipManagerArg(args.vip),
        tls: args.tls,
        poolSize: args.poolSize,
        pgbouncerProcs: args.pgbouncerProcs,
        maxConnections: args.maxConnections,
        maxClientConn: args.maxClientConn,
        portBase: args.portBase,
      },
      (line) => console.error(line),
    );
    console.log(alreadyRunning ? `stack already running in ${status.dir}` : `stack up in ${status.dir}`);
    printStatus(status);
  },
};

/** `stack isolate NAME` / `stack rejoin NAME`: a --vip node's link down (its processes running) or up again. */
function linkCommand(isolate: boolean): CommandModule<object, DirArgs & { name: string }> {
  return {
    command: `${isolate ? "isolate" : "rejoin"} <name>`,
    describe: isolate
      ? "--vip: cut a node off the other and the clients (its link down, its processes running)"
      : "--vip: bring an isolated node's link up again",
    builder: (a) =>
      dirOption(a).positional("name", { type: "string", demandOption: true, describe: "node-a | node-b" }),
    handler: (args) => {
      try {
        isolateNode(stackPaths(args.dir), memberArg(args.name), isolate);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      console.log(`${args.name} ${isolate ? "isolated" : "rejoined"}`);
    },
  };
}

/** `stack poweroff NAME`: a --vip node's power loss (its link first, then its processes). */
const powerOffCommand: CommandModule<object, DirArgs & { name: string }> = {
  command: "poweroff <name>",
  describe:
    "--vip: a node loses power: its link goes, then its processes, so that nothing it had open hears of it",
  builder: (a) =>
    dirOption(a)
      .positional("name", { type: "string", demandOption: true, describe: "node-a | node-b" })
      .example("$0 stack poweroff node-a", "the holder's power loss; `stack start node-a` brings it back"),
  handler: async (args) => {
    let pids: number[];
    try {
      pids = await powerOffNode(stackPaths(args.dir), memberArg(args.name));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    console.log(`${args.name} powered off (${pidList(pids)})`);
  },
};

export const stackCommand: CommandModule = {
  command: "stack <action>",
  describe: "a local PostgreSQL + PgBouncer (+ HAProxy) stack on loopback",
  builder: (y) =>
    y
      .command(upCommand)
      .command<DirArgs & { json: boolean }>(
        "status",
        "show members, pids and URIs",
        (a) => dirOption(a).option("json", { type: "boolean", default: false, describe: "print JSON" }),
        (args) => {
          const status = stackStatus(args.dir);
          if (args.json) console.log(JSON.stringify(status, null, 2));
          else {
            console.log(`stack in ${status.dir}: ${status.running ? "running" : "not fully running"}`);
            printStatus(status);
          }
        },
      )
      .command<DirArgs>(
        "down",
        "stop every member by its recorded pid; the directory stays reusable",
        (a) => dirOption(a),
        async (args) => {
          const stopped = await stackDown(args.dir);
          console.log(stopped.length ? `stopped ${stopped.join(", ")}` : "nothing was running");
        },
      )
      .command<DirArgs & { name: string; signal: string }>(
        "kill <name>",
        "send a signal to one member (fault injection)",
        (a) =>
          dirOption(a)
            .positional("name", { type: "string", demandOption: true, describe: MEMBER_NAMES.join(" | ") })
            .option("signal", { type: "string", default: "TERM", describe: SIGNALS.join(" | ") })
            .example("$0 stack kill pgbouncer-1 --signal KILL", "dirty death of a bouncer"),
        async (args) => {
          const name = memberArg(args.name);
          const signal = args.signal.toUpperCase().replace(/^SIG/, "");
          if (!(SIGNALS as readonly string[]).includes(signal)) {
            throw new UsageError(`unknown signal '${args.signal}' (one of: ${SIGNALS.join(", ")})`);
          }
          try {
            const pids = await signalMember(stackPaths(args.dir), name, signal as SignalName);
            console.log(`sent SIG${signal} to ${name} (${pidList(pids)})`);
          } catch (err) {
            throw new UsageError((err as Error).message);
          }
        },
      )
      .command<DirArgs & { name: string }>(
        "start <name>",
        "start one member again (after kill)",
        (a) =>
          dirOption(a).positional("name", {
            type: "string",
            demandOption: true,
            describe: MEMBER_NAMES.join(" | "),
          }),
        async (args) => {
          const status = await stackStartMember(args.dir, memberArg(args.name));
          console.log(`${status.name} running (${pidList(status.pids ?? [])})`);
        },
      )
      .command<DirArgs & { name: string }>(
        "move <name>",
        "--vip: move the VIP to this node, as the seed's manual move (keepalived: the holder's restarts; Pacemaker: crm_resource --move)",
        (a) =>
          dirOption(a).positional("name", {
            type: "string",
            demandOption: true,
            describe: "node-a | node-b",
          }),
        async (args) => {
          await stackMoveVip(args.dir, memberArg(args.name));
          console.log(`VIP on ${args.name}`);
        },
      )
      .command(powerOffCommand)
      .command(linkCommand(true))
      .command(linkCommand(false))
      .demandCommand(
        1,
        "say which: up, status, down, kill NAME, start NAME, move NODE, poweroff NODE, isolate NODE, rejoin NODE",
      ),
  handler: () => {},
};
