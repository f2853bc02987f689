import { existsSync, readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { KnobSpecs, KnobValue, Knobs } from "../api.js";
import { UsageError } from "../errors.js";

function coerce(workload: string, key: string, raw: unknown, specs: KnobSpecs): KnobValue {
  // Own keys only: '__proto__', 'constructor' and the like are unknown knobs, not Object.prototype's.
  const spec = Object.hasOwn(specs, key) ? specs[key] : undefined;
  if (!spec) {
    const known = Object.keys(specs);
    throw new UsageError(
      `unknown knob '${key}' for workload ${workload} (knobs: ${known.length ? known.join(", ") : "none"})`,
    );
  }
  const bad = (what: string) => new UsageError(`knob ${key}: '${String(raw)}' is not ${what}`);
  switch (typeof spec.default) {
    case "number": {
      const n = typeof raw === "number" ? raw : Number(String(raw).trim());
      if (String(raw).trim() === "" || !Number.isFinite(n)) throw bad("a number");
      if (spec.min !== undefined && n < spec.min) throw bad(`≥ ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw bad(`≤ ${spec.max}`);
      return n;
    }
    case "boolean": {
      if (typeof raw === "boolean") return raw;
      const t = String(raw).toLowerCase();
      if (["true", "1", "yes", "on"].includes(t)) return true;
      if (["false", "0", "no", "off"].includes(t)) return false;
      throw bad("a boolean (true/false)");
    }
    default: {
      const s = String(raw);
      if (spec.choices && !spec.choices.includes(s)) throw bad(`one of ${spec.choices.join(", ")}`);
      return s;
    }
  }
}

/** --args like dbworkload: a JSON object, or a .json / .yaml / .yml file holding one. */
export function parseArgsOption(text: string): Record<string, unknown> {
  let source = text;
  const isFile = /\.(json|ya?ml)$/i.test(text) && !text.trim().startsWith("{");
  if (isFile) {
    if (!existsSync(text)) throw new UsageError(`--args: file not found: ${text}`);
    source = readFileSync(text, "utf8");
  }
  let value: unknown;
  try {
    value = /\.ya?ml$/i.test(text) ? parseYaml(source) : JSON.parse(source);
  } catch (err) {
    throw new UsageError(
      `--args: not valid ${isFile ? text : "JSON"}: ${(err as Error).message.split("\n")[0]}`,
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError("--args: expected an object of knob: value");
  }
  return value as Record<string, unknown>;
}

/** The knob values for a run: defaults, then --args, then each --set key=value (later wins). */
export function resolveKnobs(
  workload: string,
  specs: KnobSpecs,
  args: string | undefined,
  sets: string[],
): Knobs {
  const knobs: Knobs = {};
  for (const [key, spec] of Object.entries(specs)) knobs[key] = spec.default;
  if (args)
    for (const [k, v] of Object.entries(parseArgsOption(args))) knobs[k] = coerce(workload, k, v, specs);
  for (const pair of sets) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--set: expected key=value, got '${pair}'`);
    const key = pair.slice(0, eq).trim();
    knobs[key] = coerce(workload, key, pair.slice(eq + 1), specs);
  }
  return knobs;
}
