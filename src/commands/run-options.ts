import { validateUri } from "../db/uri.js";
import { UsageError } from "../errors.js";
import { parseFault, readScenario, type Fault } from "../faults/fault.js";
import type { PlanInput, RunPlan } from "../plan.js";
import { defaultStackDir } from "../stack/default-dir.js";
import { userInfo } from "node:os";
import type { SideServiceOptions } from "../run/services.js";
import {
  bouncerProcesses,
  membersOf,
  readStackConfig,
  stackPaths,
  stackRole,
  stackUris,
} from "../stack/layout.js";
import { memberPid, nodeProcessPid } from "../stack/members.js";
import { VIP_NODES } from "../stack/vip-net.js";

/**
 * `dcpbench run`'s options, as yargs parses them: the plan's raw inputs (PlanInput, minus what the command
 * works out itself), plus the options that shape observation, faults and output.
 */
export type RunArgs = Omit<
  PlanInput,
  "workloadRef" | "knobs" | "uri" | "cpus" | "thresholds" | "timedFaults"
> & {
  uri?: string;
  set: string[];
  args?: string;
  threshold: string[];
  observe?: boolean;
  observeUri?: string;
  pgbouncerAdmin?: string;
  prometheusPort?: number;
  prometheusHost?: string;
  json?: boolean;
  fault: string[];
  faults?: string;
  stackDir?: string;
};

/**
 * Where to sample the server side. The database: --observe-uri, else the local stack's PostgreSQL (in the
 * run's database) when the run targets the stack (so that a pooled run still sees PostgreSQL's sessions),
 * else the run's own URI.
 * PgBouncer: --pgbouncer-admin, else the stack's admin consoles when the run goes through the stack's pooler.
 */
export function observeTargets(
  uri: string,
  args: Pick<RunArgs, "observe" | "observeUri" | "pgbouncerAdmin">,
  stackDir = defaultStackDir(),
): NonNullable<SideServiceOptions["observe"]> {
  if (args.observe === false) return { pgbouncerAdmins: [] };
  const paths = stackPaths(stackDir);
  const cfg = readStackConfig(paths);
  const target = new URL(uri);
  const role = stackRole(cfg, uri);
  const onStack = role !== undefined;
  const pooled = role === "pooler";
  const explicitAdmins = args.pgbouncerAdmin
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const admin of explicitAdmins ?? []) validateUri(admin, "--pgbouncer-admin");
  if (args.observeUri) validateUri(args.observeUri, "--observe-uri");
  // On the stack, PostgreSQL itself (a pooled run's too), in the run's own database.
  const observeUri =
    args.observeUri ?? (onStack ? withTarget(stackUris(cfg!, paths).direct, target, target.pathname) : uri);
  const login = decodeURIComponent(target.username) || process.env.PGUSER || userInfo().username;
  // Each PgBouncer process on its own (a node may run several): the pooler-bound check is per process.
  const vipNodes = VIP_NODES.flatMap((n) =>
    (["pgbouncer", "haproxy"] as const).map((kind) => ({
      member: `${kind}-${n}`,
      pid: () => nodeProcessPid(paths, `node-${n}`, kind),
    })),
  );
  const poolers = !pooled
    ? []
    : cfg!.vip
      ? vipNodes
      : [
          ...bouncerProcesses(cfg!).map((p) => ({
            member: p.label,
            pid: () => memberPid(paths, p.member, p.k),
          })),
          ...(cfg!.ha ? [{ member: "haproxy", pid: () => memberPid(paths, "haproxy") }] : []),
        ];
  return {
    observeUri,
    pgbouncerAdmins:
      explicitAdmins ??
      (pooled ? stackUris(cfg!, paths).pgbouncerAdmin.map((a) => withTarget(a, target)) : []),
    server: {
      uri: observeUri,
      role: login,
      postmaster:
        onStack && !args.observeUri ? { pid: () => memberPid(paths, "postgres") } : localServer(observeUri),
      poolers,
    },
  };
}

/**
 * A stack URI in the run's database, with the password the run's URI carries for the same role: the samplers
 * must log in as the run does, and a password given that way is in no pgpass file.
 */
function withTarget(uri: string, target: URL, path?: string): string {
  const u = new URL(uri);
  if (path && path !== "/") u.pathname = path;
  if (target.password && target.username === u.username) u.password = target.password;
  return u.toString();
}

/** A server on this host (its processes are then found by the sampler), or why its processes cannot be read. */
function localServer(uri: string): { local: { port: number } } | { absent: string } {
  const u = new URL(uri);
  const socketDir = u.searchParams.get("host")?.startsWith("/");
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (!socketDir && !["127.0.0.1", "localhost", "::1", ""].includes(host) && !host.startsWith("127."))
    return { absent: `the server (${host}) is not on this host: its processes cannot be read from /proc` };
  return { local: { port: Number(u.searchParams.get("port") ?? (u.port || 5432)) } };
}

/** --fault and --faults, checked against the local stack they will act on and the run's planned end. */
export function planFaults(
  args: Pick<RunArgs, "fault" | "faults" | "stackDir">,
  plan: Pick<RunPlan, "plannedEndMs">,
): {
  dir: string;
  list: Fault[];
} {
  const list = [...args.fault.map(String).map(parseFault), ...(args.faults ? readScenario(args.faults) : [])];
  const dir = args.stackDir ?? defaultStackDir();
  if (list.length === 0) return { dir, list };
  const cfg = readStackConfig(stackPaths(dir));
  if (!cfg)
    throw new UsageError(`--fault acts on the local stack, and there is none in ${dir} (dcpbench stack up)`);
  for (const f of list) {
    if (plan.plannedEndMs !== null && f.at * 1000 >= plan.plannedEndMs) {
      throw new UsageError(
        `--fault '${f.spec}' is at ${f.at}s, not before the run's planned end (${plan.plannedEndMs / 1000}s: ` +
          "ramp + duration, from the start): it would never be carried out",
      );
    }
    if (!membersOf(cfg).includes(f.member)) {
      throw new UsageError(
        `--fault '${f.spec}': ${f.member} is not a member of the stack in ${dir} (${membersOf(cfg).join(", ")})`,
      );
    }
  }
  return { dir, list };
}
