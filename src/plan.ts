import { DRIVERS } from "./db/driver.js";
import { QUERY_MODES } from "./db/query-mode.js";
import { redactUri, validateUri } from "./db/uri.js";
import { UsageError } from "./errors.js";
import { parseCpuList } from "./options/cpu-list.js";
import { parseThreshold } from "./options/threshold.js";
import { formatDuration, parseDuration, parseRate } from "./options/units.js";
import type {
  Arrival,
  Driver,
  IterationsSplit,
  Knobs,
  QueryMode,
  SavedPlan,
  ShardSpec,
  Threshold,
} from "./schema/plan.js";
import { parseShard, parseStartAt } from "./options/shard.js";

const ITERATIONS_SPLITS: readonly IterationsSplit[] = ["shared", "even"];
import { CONNECT, CYCLE, LAG } from "./schema/measures.js";
import { LABEL_PATTERN } from "./schema/result.js";

/**
 * Everything a run needs, validated once and complete: every field has its value (defaults applied), and
 * what is derived from several options is worked out here once. `uri` may hold a password: it never leaves
 * the process tree; what is printed and saved is `savedPlan(plan)`.
 */
export interface RunPlan extends Readonly<Omit<SavedPlan, "uri" | "warmupMs" | "drainMs">> {
  readonly uri: string;
  /** Always set in a built plan (a saved one from before there was a warm-up may lack it). */
  readonly warmupMs: number;
  readonly drainMs: number;
  /**
   * Milliseconds after the common start by which the measured window has ended (ramp + warm-up, its longest
   * when automatic, + duration); null: no duration.
   */
  readonly plannedEndMs: number | null;
  /**
   * Milliseconds after the common start at which the measured window opens with a fixed warm-up (ramp +
   * warm-up); with `--warmup auto`, the earliest it may open.
   */
  readonly windowFromMs: number;
}

/** One worker's share of the plan (and of its shard's): clients, their ids, the rate and the pacing phase. */
export interface Share {
  /** The worker's index in this process's run. */
  index: number;
  clients: number;
  /** Global id of the first client: ids are unique across workers and shards. */
  firstClientId: number;
  /** The whole plan's clients (every shard's): the ramp spreads client starts over all of them. */
  planClients: number;
  /** Open loop: this worker's part of --rate, per second. */
  rate?: number;
  /** Its part of --idle-conns. */
  idleConns: number;
  /** Where in the plan's first pacing interval this worker's first start falls, 0…1 (workers and shards staggered). */
  phase: number;
}

/**
 * How a plan divides among this process's workers: the one place where a shard's and a worker's share of the
 * clients, their ids, the rate and the pacing phase are worked out.
 */
export function sharesOf(plan: RunPlan): Share[] {
  const shard = plan.shard ?? { index: 0, count: 1, conns: plan.conns, firstClientId: 0 };
  let firstClientId = shard.firstClientId;
  const idle = splitEvenly(plan.idleConns ?? 0, plan.workers);
  return splitEvenly(plan.conns, plan.workers).map((clients, index) => {
    const share: Share = {
      index,
      clients,
      idleConns: idle[index]!,
      firstClientId,
      planClients: shard.conns,
      ...(plan.rate !== undefined ? { rate: (plan.rate * clients) / plan.conns } : {}),
      phase: (shard.index + index / plan.workers) / shard.count,
    };
    firstClientId += clients;
    return share;
  });
}

/** The plan as it is printed and saved: no password, nothing derived. */
export function savedPlan(plan: RunPlan): SavedPlan {
  const { uri, plannedEndMs: _end, windowFromMs: _from, ...rest } = plan;
  return { ...rest, uri: redactUri(uri) };
}

/** Raw option values as the CLI parsed them. */
export interface PlanInput {
  workload: string;
  workloadRef: string;
  knobs: Knobs;
  uri: string;
  conns?: number;
  workers?: number;
  cpus: number;
  duration?: string;
  iterations?: number;
  iterationsSplit?: string;
  shard?: string;
  startAt?: string;
  ramp?: string;
  warmup?: string;
  warmupMax?: string;
  drain?: string;
  /** --fault given: faults are timed from the start, so the warm-up is fixed by default (they land where put). */
  timedFaults?: boolean;
  rate?: string;
  arrival?: string;
  pin?: string;
  txnPooling?: boolean;
  queryMode?: string;
  connectPerTxn?: boolean;
  waitEvents?: boolean;
  idleConns?: number;
  idleEvery?: string;
  driver?: string;
  label?: string;
  out?: string;
  progress?: string;
  appName?: string;
  connectTimeout?: string;
  maxErrors?: number;
  thresholds?: string[];
  /** The ops the workload can run with these knobs, when it says (Workload.opNames). */
  opNames?: readonly string[];
}

function positiveInt(value: number | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value <= 0)
    throw new UsageError(`${option} must be a positive integer, got ${value}`);
  return value;
}

export function buildPlan(input: PlanInput): RunPlan {
  validateUri(input.uri);
  const totalConns = positiveInt(input.conns ?? 8, "--conns")!;
  const shard = input.shard !== undefined ? shardOf(parseShard(input.shard), totalConns) : undefined;
  const conns = shard ? splitEvenly(totalConns, shard.count)[shard.index] : totalConns;
  const pin = input.pin !== undefined ? parseCpuList(input.pin) : undefined;
  if (input.pin !== undefined && !pin?.length)
    throw new UsageError(`--pin: '${input.pin}' is not a list of CPUs (examples: 1, 0,2, 2-5)`);
  // One worker per CPU: the machine's, or the ones it is pinned to.
  const workers =
    positiveInt(input.workers, "--workers") ?? Math.max(1, Math.min(pin?.length ?? input.cpus, conns));
  if (workers > conns) throw new UsageError(`--workers (${workers}) cannot exceed --conns (${conns})`);
  const durationMs = input.duration !== undefined ? parseDuration(input.duration, "--duration") : undefined;
  if (durationMs !== undefined && durationMs <= 0) throw new UsageError("--duration must be > 0");
  const iterations = positiveInt(input.iterations, "--iterations");
  const iterationsSplit = (input.iterationsSplit ?? "shared") as IterationsSplit;
  if (!ITERATIONS_SPLITS.includes(iterationsSplit))
    throw new UsageError(`--iterations-split must be one of ${ITERATIONS_SPLITS.join(", ")}`);
  if (input.iterationsSplit !== undefined && iterations === undefined)
    throw new UsageError("--iterations-split needs --iterations");
  const rampMs = input.ramp !== undefined ? parseDuration(input.ramp, "--ramp") : 0;
  const totalRate = input.rate !== undefined ? parseRate(input.rate, "--rate") : undefined;
  // A shard's share of the rate follows its share of the clients, as a worker's does.
  const rate = totalRate !== undefined && shard ? (totalRate * conns) / totalConns : totalRate;
  const arrival = (input.arrival ?? "uniform") as Arrival;
  if (arrival !== "uniform" && arrival !== "poisson")
    throw new UsageError("--arrival must be uniform or poisson");
  if (input.arrival !== undefined && rate === undefined)
    throw new UsageError("--arrival needs --rate (open loop)");
  const queryMode = (input.queryMode ?? "simple") as QueryMode;
  if (!QUERY_MODES.includes(queryMode))
    throw new UsageError(`--query-mode must be one of ${QUERY_MODES.join(", ")}`);
  const driver = (input.driver ?? "lean") as Driver;
  if (!DRIVERS.includes(driver)) throw new UsageError(`--driver must be one of ${DRIVERS.join(", ")}`);
  const txnPooling = input.txnPooling ?? false;
  if (txnPooling && queryMode === "prepared") {
    throw new UsageError(
      "--query-mode prepared cannot be used with --txn-pooling (given, or implied by the local stack's pooler URI; --no-txn-pooling overrides): named prepared statements do not survive " +
        "transaction pooling (PgBouncer < 1.21); use simple, extended or psycopg (which does not prepare there)",
    );
  }
  const label = input.label ?? (txnPooling ? "pooled" : "direct");
  if (!LABEL_PATTERN.test(label))
    throw new UsageError(`--label: use letters, digits, '.', '_' or '-' (got '${label}')`);
  const progressText = input.progress ?? "1s";
  const progress = progressText !== "off";
  const intervalMs = progress ? parseDuration(progressText, "--progress") : 1000;
  if (intervalMs < 100) throw new UsageError("--progress must be at least 100ms (or off)");
  const startAt = input.startAt !== undefined ? startAtFor(input.startAt, shard !== undefined) : undefined;
  const warmup = warmupFor(
    input,
    durationMs,
    iterations,
    rampMs,
    intervalMs,
    shard !== undefined || !!startAt,
  );
  const warmupMs = warmup.ms;
  const drainMs = input.drain !== undefined ? parseDuration(input.drain, "--drain") : DEFAULT_DRAIN_MS;
  if (
    startAt !== undefined &&
    durationMs !== undefined &&
    Date.parse(startAt) + rampMs + warmupMs + durationMs <= Date.now()
  )
    throw new UsageError(
      `--start-at ${input.startAt}: the planned window (${startAt} + ${formatDuration(rampMs + warmupMs + durationMs)}) is already over`,
    );
  const idle = idleFor(input, shard);
  const connectTimeoutMs = parseDuration(input.connectTimeout ?? "10s", "--connect-timeout");
  const maxErrors = input.maxErrors;
  if (maxErrors !== undefined && (!Number.isInteger(maxErrors) || maxErrors < 0)) {
    throw new UsageError("--max-errors must be a non-negative integer");
  }
  return {
    workload: input.workload,
    workloadRef: input.workloadRef,
    knobs: input.knobs,
    uri: input.uri,
    conns,
    workers,
    durationMs,
    iterations,
    ...(iterations !== undefined ? { iterationsSplit } : {}),
    rampMs,
    warmupMs,
    ...(warmup.auto ? { warmupAuto: warmup.auto } : {}),
    drainMs,
    rate,
    arrival,
    ...(pin ? { pin } : {}),
    txnPooling,
    queryMode,
    connectPerTxn: input.connectPerTxn ?? false,
    ...(input.waitEvents ? { waitEvents: true } : {}),
    ...idle,
    driver,
    label,
    outDir: input.out ?? "results",
    intervalMs,
    progress,
    appName: input.appName ?? `dcpbench-${label}`,
    connectTimeoutMs,
    maxErrors,
    thresholds: thresholdsFor(input, rate !== undefined),
    ...(shard ? { shard: { ...shard, ...(totalRate !== undefined ? { rate: totalRate } : {}) } } : {}),
    ...(startAt !== undefined ? { startAt } : {}),
    plannedEndMs: durationMs !== undefined ? rampMs + (warmup.auto?.maxMs ?? warmupMs) + durationMs : null,
    windowFromMs: rampMs + warmupMs,
  };
}

/** --threshold parsed; one naming an op the workload does not have is refused now, not crossed at the end. */
function thresholdsFor(input: PlanInput, openLoop: boolean): Threshold[] {
  const thresholds = (input.thresholds ?? []).map(parseThreshold);
  if (!input.opNames) return thresholds;
  const ops = [...input.opNames, CYCLE, CONNECT, ...(openLoop ? [LAG] : [])];
  for (const t of thresholds) {
    if (t.op !== "errors" && t.op !== "generator" && !ops.includes(t.op)) {
      throw new UsageError(
        `--threshold '${t.expr}': workload ${input.workload} has no op '${t.op}' (ops: ${ops.join(", ")}, or errors)`,
      );
    }
  }
  return thresholds;
}

/** After the window's end, how long its cycles in flight may take to finish by default (k6's gracefulStop). */
const DEFAULT_DRAIN_MS = 30_000;
/** An automatic warm-up ends at steady state, or after this long at most by default. */
const DEFAULT_WARMUP_MAX_MS = 60_000;

/**
 * The warm-up after the ramp, before the measured window. By default, for a --duration run of 5 s or more, it
 * ends at steady state (`auto`: at least 2 s, 1 s under a 20 s run; at most --warmup-max); under 5 s, and for an
 * --iterations run (every cycle counts), there is none. Shards (and --start-at, --fault) need a window on the
 * clock they were given: their default is the fixed minimum. Rounded up so that the window starts on an
 * interval's boundary (the timeline's intervals are whole).
 */
function warmupFor(
  input: Pick<PlanInput, "warmup" | "warmupMax" | "timedFaults">,
  durationMs: number | undefined,
  iterations: number | undefined,
  rampMs: number,
  intervalMs: number,
  clockBound: boolean,
): { ms: number; auto?: { maxMs: number } } {
  const text = input.warmup?.trim();
  const minDefault =
    durationMs === undefined ? 0 : durationMs >= 20_000 ? 2000 : durationMs >= 5000 ? 1000 : 0;
  const round = (ms: number) => (ms <= 0 ? 0 : Math.ceil((rampMs + ms) / intervalMs) * intervalMs - rampMs);
  let auto: boolean;
  let ms: number;
  if (text === "auto") {
    if (durationMs === undefined)
      throw new UsageError("--warmup auto needs --duration (an --iterations run counts every cycle)");
    if (clockBound)
      throw new UsageError(
        "--warmup auto: shards (and --start-at) open their windows at the time they were given; give a fixed --warmup",
      );
    auto = true;
    ms = Math.max(minDefault, intervalMs);
  } else if (text !== undefined) {
    ms = parseDuration(text, "--warmup");
    if (ms > 0 && durationMs === undefined)
      throw new UsageError("--warmup needs --duration (an --iterations run counts every cycle)");
    auto = false;
  } else {
    ms = iterations !== undefined ? 0 : minDefault;
    auto = ms > 0 && !clockBound && !input.timedFaults;
  }
  if (input.warmupMax !== undefined && !auto)
    throw new UsageError(
      "--warmup-max needs an automatic warm-up (--warmup auto, the default from a 5 s run)",
    );
  if (!auto) return { ms: round(ms) };
  const maxMs =
    input.warmupMax !== undefined ? parseDuration(input.warmupMax, "--warmup-max") : DEFAULT_WARMUP_MAX_MS;
  if (maxMs < ms)
    throw new UsageError(
      `--warmup-max ${input.warmupMax} is shorter than the least warm-up (${ms / 1000} s)`,
    );
  return { ms: round(ms), auto: { maxMs: round(maxMs) } };
}

/** --idle-conns (this shard's share of it) and --idle-every. */
function idleFor(
  input: Pick<PlanInput, "idleConns" | "idleEvery">,
  shard: { index: number; count: number } | undefined,
): { idleConns?: number; idleEveryMs?: number } {
  const total = input.idleConns ?? 0;
  if (!Number.isInteger(total) || total < 0)
    throw new UsageError("--idle-conns must be a non-negative integer");
  const everyMs = input.idleEvery !== undefined ? parseDuration(input.idleEvery, "--idle-every") : undefined;
  // --idle-conns 0 with --idle-every is a sweep's baseline point: nothing to do, not an error.
  if (everyMs !== undefined && input.idleConns === undefined)
    throw new UsageError("--idle-every needs --idle-conns");
  if (everyMs !== undefined && everyMs < 100) throw new UsageError("--idle-every must be at least 100ms");
  const idleConns = shard ? splitEvenly(total, shard.count)[shard.index]! : total;
  return idleConns > 0 ? { idleConns, ...(everyMs !== undefined ? { idleEveryMs: everyMs } : {}) } : {};
}

/** --start-at as an ISO time; a relative one would differ from host to host, so shards need an absolute one. */
function startAtFor(text: string, sharded: boolean): string {
  if (sharded && text.trim().startsWith("+"))
    throw new UsageError(
      `--start-at ${text}: each shard would read it on its own clock; give the shards one absolute time (e.g. ${new Date(Date.now() + 120_000).toISOString().replace(/\.\d+Z$/, "Z")})`,
    );
  const at = parseStartAt(text);
  // Node's timers cannot wait longer than 24.8 days; a start that far off is a typo more often than a plan.
  if (at - Date.now() > MAX_START_AHEAD_MS)
    throw new UsageError(`--start-at ${text} is more than 7 days ahead; give a nearer time`);
  return new Date(at).toISOString();
}

const MAX_START_AHEAD_MS = 7 * 86_400_000;

/** Shard I of N of `conns` clients: its first client id; refused when it would have no client. */
function shardOf(s: { index: number; count: number }, conns: number): ShardSpec {
  if (conns < s.count)
    throw new UsageError(
      `--shard ${s.index}/${s.count}: --conns ${conns} leaves some shards no client (give at least ${s.count})`,
    );
  const firstClientId = splitEvenly(conns, s.count)
    .slice(0, s.index)
    .reduce((a, b) => a + b, 0);
  return { index: s.index, count: s.count, conns, firstClientId };
}

/** Clients per worker, as even as possible: 1024/4 → 256 ×4; 10/4 → 3,3,2,2. */
export function splitEvenly(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < total % parts ? 1 : 0));
}
