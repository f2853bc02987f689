import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";

/** The environment variables dcpbench reads for itself, which name no option. */
const OWN_VARIABLES = new Set(["DCPBENCH_PG_BIN", "DCPBENCH_STACK_USER", "DCPBENCH_DEBUG"]);
const PREFIX = "DCPBENCH_";

/** What yargs' getOptions() tells of the command being parsed. */
export interface KnownOptions {
  key: Record<string, unknown>;
  number: string[];
  boolean: string[];
  array: string[];
  default: Record<string, unknown>;
}

type Argv = Record<string, unknown>;

const camel = (name: string) => name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/** The option names written on the command line, in order, repeats kept (`--conns 8`, `--conns=8`, `--no-observe`). */
export function optionNames(args: readonly string[]): string[] {
  const names: string[] = [];
  for (const arg of args) {
    if (arg === "--") break;
    const name = /^--(?:no-)?([A-Za-z][\w-]*)/.exec(arg)?.[1];
    if (name) names.push(name);
  }
  return names;
}

/** A value from the environment or a config file, as the option's type wants it; `from` names where it came. */
function coerce(value: unknown, name: string, opts: KnownOptions, from: string): unknown {
  if (opts.array.includes(name)) return Array.isArray(value) ? value.map(String) : [String(value)];
  if (opts.number.includes(name)) {
    const n = typeof value === "number" ? value : Number(String(value).trim());
    if (String(value).trim() === "" || !Number.isFinite(n)) throw new UsageError(`${from}: not a number`);
    return n;
  }
  if (opts.boolean.includes(name)) {
    if (typeof value === "boolean") return value;
    const v = String(value).toLowerCase();
    if (["1", "true", "yes"].includes(v)) return true;
    if (["0", "false", "no"].includes(v)) return false;
    throw new UsageError(`${from}: say true or false`);
  }
  if (typeof value === "object" && value !== null) throw new UsageError(`${from}: expected a single value`);
  return String(value);
}

/**
 * Fills the options the command line left out: first from DCPBENCH_<OPTION> variables (DCPBENCH_CONNS=64 is
 * --conns 64; a list option takes one value), then from the JSON object in --config FILE; the command line wins,
 * then the environment, then the file, then the defaults. A variable naming no option of this command is left
 * alone (it may be another command's); a key of the file that names none is an error.
 */
export function fillFromEnvAndConfig(
  argv: Argv,
  opts: KnownOptions,
  commandLine: ReadonlySet<string>,
  env: NodeJS.ProcessEnv,
): void {
  const open = (name: string) =>
    name in opts.key &&
    !["help", "version", "config"].includes(name) &&
    !commandLine.has(name) &&
    (argv[name] === undefined || name in opts.default);
  const set = (name: string, value: unknown) => {
    argv[name] = value;
    argv[camel(name)] = value;
  };
  const filled = new Set<string>();
  for (const [variable, value] of Object.entries(env)) {
    if (!variable.startsWith(PREFIX) || OWN_VARIABLES.has(variable) || value === undefined) continue;
    const name = variable.slice(PREFIX.length).toLowerCase().replace(/_/g, "-");
    if (!open(name)) continue;
    set(name, coerce(value, name, opts, variable));
    filled.add(name);
  }
  const file = argv.config;
  if (typeof file !== "string") return;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`--config ${file}: ${(err as Error).message}`);
  }
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--config ${file}: not JSON (${(err as Error).message})`);
  }
  if (typeof values !== "object" || values === null || Array.isArray(values))
    throw new UsageError(`--config ${file}: expected a JSON object of options, e.g. {"conns": 64}`);
  for (const [key, value] of Object.entries(values)) {
    const name = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    if (!(name in opts.key) || name === "config")
      throw new UsageError(`--config ${file}: "${key}" is not an option of this command`);
    if (open(name) && !filled.has(name)) set(name, coerce(value, name, opts, `--config ${file}: ${key}`));
  }
}
