/** Helpers shared by the benchmarks. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { stackDown, stackUp, type UpOptions, type UpOutcome } from "../src/stack/stack.js";
import { assertPortFree } from "../src/stack/system.js";

/** dcpbench's CLI, and the Node flags of the `dcpbench` bin (its first line): the benches run it as users do. */
export const CLI = fileURLToPath(new URL("../src/cli.js", import.meta.url));
export const BIN_FLAGS =
  /^#!.*?\bnode\s+(.*)$/.exec(readFileSync(CLI, "utf8").split("\n")[0])?.[1].split(/\s+/) ?? [];

/** The checkout (the benches run from dist/bench). */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A free base of five loopback ports for a stack of the bench's own. */
export async function freeBase(): Promise<number> {
  for (;;) {
    const base = 20000 + Math.floor(Math.random() * 400) * 100;
    try {
      for (let p = base; p < base + 5; p++) await assertPortFree(p, "bench");
      return base;
    } catch {
      // try another
    }
  }
}

const liveStacks = new Set<string>();

/**
 * stack up for a bench, and its stack brought down if the bench is stopped by a signal (a test's timeout sends
 * SIGTERM, where no `finally` runs): no server outlives the bench that started it.
 */
export async function benchStack(opts: UpOptions): Promise<UpOutcome> {
  if (liveStacks.size === 0) {
    for (const sig of ["SIGINT", "SIGTERM"] as const)
      process.once(sig, () => {
        void Promise.all([...liveStacks].map((d) => stackDown(d).catch(() => undefined))).finally(() =>
          process.exit(sig === "SIGINT" ? 130 : 143),
        );
      });
  }
  liveStacks.add(opts.dir);
  return stackUp(opts);
}

/** The commit measured (with "+changes" when the tree differs from it), or "unknown" outside a git checkout. */
export function commit(): string {
  try {
    const git = (...args: string[]) =>
      execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
    return git("rev-parse", "--short", "HEAD") + (dirty ? "+changes" : "");
  } catch {
    return "unknown";
  }
}

/** The q-quantile of sorted values (NaN when there are none). */
export function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
}

export function median(values: number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/** The markers of the sections other benches own in BENCHMARKS.md, which `npm run bench` keeps as they were. */
export const SERVER_SIDE_BEGIN = "<!-- bench:server-side begin -->";
export const SERVER_SIDE_END = "<!-- bench:server-side end -->";
export const SWEEP_BEGIN = "<!-- bench:sweep begin -->";
export const SWEEP_END = "<!-- bench:sweep end -->";
export const MERGE_BEGIN = "<!-- bench:merge begin -->";
export const MERGE_END = "<!-- bench:merge end -->";

/** A section of a BENCHMARKS.md between its markers, markers included, or undefined. */
export function keptSection(text: string, begin: string, end: string): string | undefined {
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  return a >= 0 && b > a ? text.slice(a, b + end.length) : undefined;
}

/** The machine's CPU time so far (all CPUs, in ticks), from /proc/stat: what steal is a share of. */
export interface CpuTicks {
  steal: number;
  total: number;
}

export function cpuTicks(): CpuTicks | undefined {
  try {
    // cpu user nice system idle iowait irq softirq steal (guest and guest_nice are inside user and nice).
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length < 8 || !f.every(Number.isFinite)) return undefined;
    return { steal: f[7], total: f.reduce((a, b) => a + b, 0) };
  } catch {
    return undefined;
  }
}

/**
 * Steal between two readings, as the report says it: the CPU time the hypervisor gave to other guests, which
 * both tools lose alike but which makes their tails swing. Undefined where /proc/stat cannot be read.
 */
export function stealShare(from: CpuTicks | undefined, to: CpuTicks | undefined): number | undefined {
  if (!from || !to || to.total <= from.total) return undefined;
  return ((to.steal - from.steal) / (to.total - from.total)) * 100;
}
