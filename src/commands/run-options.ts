import { validateUri } from "../db/uri.js";
import { UsageError } from "../errors.js";
import { parseFault, readScenario, type Fault } from "../faults/fault.js";
import type { PlanInput, RunPlan } from "../plan.js";
import { defaultStackDir } from "../stack/default-dir.js";
import { membersOf, readStackConfig, stackPaths, stackUris } from "../stack/layout.js";

/**
 * `dcpbench run`'s options, as yargs parses them: the plan's raw inputs (PlanInput, minus what the command
 * works out itself), plus the options that shape observation, faults and output.
 */
export type RunArgs = Omit<PlanInput, "workloadRef" | "knobs" | "uri" | "cpus" | "thresholds"> & {
  uri?: string;
  set: string[];
  args?: string;
  threshold: string[];
  observe?: boolean;
  observeUri?: string;
  pgbouncerAdmin?: string;
  prometheusPort?: number;
  fault: string[];
  faults?: string;
  stackDir?: string;
};

/**
 * Where to sample the server side. The database: --observe-uri, else the local stack's direct URI when the
 * run targets the stack (so that a pooled run still sees PostgreSQL's sessions), else the run's own URI.
 * PgBouncer: --pgbouncer-admin, else the stack's admin consoles when the run goes through the stack's pooler.
 */
export function observeTargets(
  uri: string,
  args: Pick<RunArgs, "observe" | "observeUri" | "pgbouncerAdmin">,
): { observeUri?: string; pgbouncerAdmins: string[] } {
  if (args.observe === false) return { pgbouncerAdmins: [] };
  const cfg = readStackConfig(stackPaths(defaultStackDir()));
  const target = new URL(uri);
  const local = ["127.0.0.1", "localhost"].includes(target.hostname);
  const port = Number(target.port || 5432);
  const ports = cfg?.ports;
  const onStack = !!ports && local && Object.values(ports).includes(port);
  const pooled = onStack && port !== ports!.postgres;
  const explicitAdmins = args.pgbouncerAdmin
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const admin of explicitAdmins ?? []) validateUri(admin, "--pgbouncer-admin");
  if (args.observeUri) validateUri(args.observeUri, "--observe-uri");
  return {
    observeUri: args.observeUri ?? (onStack ? stackUris(cfg!).direct : uri),
    pgbouncerAdmins: explicitAdmins ?? (pooled ? stackUris(cfg!).pgbouncerAdmin : []),
  };
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
