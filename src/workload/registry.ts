import { existsSync, readdirSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Workload } from "../api.js";
import { UsageError } from "../errors.js";

/** Where the built-in workloads are, once compiled (dist/workloads). */
const BUILTIN_DIR = fileURLToPath(new URL("../../workloads/", import.meta.url));

export function builtinWorkloads(): string[] {
  if (!existsSync(BUILTIN_DIR)) return [];
  return readdirSync(BUILTIN_DIR)
    .filter((f) => f.endsWith(".js"))
    .map((f) => f.slice(0, -3))
    .sort();
}

const isPath = (ref: string) => ref.includes("/") || /\.(c|m)?js$/.test(ref);

/**
 * A workload reference as workers will load it: a built-in name, or the absolute path of a user's module.
 * Fails with one line for an unknown name or a missing file.
 */
export function resolveWorkloadRef(ref: string): string {
  if (isPath(ref)) {
    const abs = resolve(ref);
    if (!existsSync(abs)) throw new UsageError(`workload file not found: ${ref}`);
    return abs;
  }
  if (!builtinWorkloads().includes(ref)) {
    throw new UsageError(
      `unknown workload '${ref}' (built-in: ${builtinWorkloads().join(", ")}; or a path to a .js or .mjs module)`,
    );
  }
  return ref;
}

function check(mod: unknown, ref: string): Workload {
  const w = (mod as { default?: unknown })?.default as Partial<Workload> | undefined;
  if (!w || typeof w !== "object" || typeof w.name !== "string" || typeof w.cycle !== "function") {
    throw new UsageError(
      `${ref} is not a workload: its default export needs a name, knobs and cycle() (see docs/workloads.md)`,
    );
  }
  if (w.knobs === undefined) w.knobs = {};
  return w as Workload;
}

/** Loads a resolved workload reference (see resolveWorkloadRef). */
export async function loadWorkload(ref: string): Promise<Workload> {
  const url = isPath(ref) ? pathToFileURL(ref).href : pathToFileURL(`${BUILTIN_DIR}${ref}.js`).href;
  let mod: unknown;
  try {
    mod = await import(url);
  } catch (err) {
    throw new UsageError(`cannot load workload ${ref}: ${(err as Error).message.split("\n")[0]}`);
  }
  return check(mod, ref);
}
