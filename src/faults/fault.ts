import { existsSync, readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { UsageError } from "../errors.js";
import { MEMBER_NAMES, type MemberName } from "../stack/layout.js";
import { SIGNALS, type SignalName } from "../stack/member-faults.js";
import { parseDuration } from "../options/units.js";
import type { FaultRecord } from "../schema/events.js";

/** A scheduled fault: at a time after the start, send a signal to a stack member, or start it again, or a node's fault. */
export interface Fault {
  spec: string;
  /** Seconds after the run's start (t0). */
  at: number;
  action: FaultRecord["action"];
  member: MemberName;
  signal?: SignalName;
}

/** `at=20s kill pgbouncer-1 signal=KILL`, `at=40s start pgbouncer-1`, `at=10s isolate node-a`. */
export function parseFault(spec: string): Fault {
  const bad = (why: string) =>
    new UsageError(
      `--fault '${spec}': ${why} (e.g. 'at=20s kill pgbouncer-1 signal=KILL', 'at=40s start pgbouncer-1')`,
    );
  let at: number | undefined;
  let signal: SignalName | undefined;
  const words: string[] = [];
  for (const token of spec.trim().split(/\s+/)) {
    const [key, value] = token.split("=", 2);
    if (value === undefined) words.push(token);
    else if (key === "at") at = parseDuration(value, "--fault at") / 1000;
    else if (key === "signal") {
      const sig = value.toUpperCase().replace(/^SIG/, "");
      if (!(SIGNALS as readonly string[]).includes(sig)) throw bad(`unknown signal '${value}'`);
      signal = sig as SignalName;
    } else throw bad(`unknown setting '${key}'`);
  }
  if (at === undefined) throw bad("missing at=TIME");
  const [action, member, ...rest] = words;
  if (!["kill", "poweroff", "start", "isolate", "rejoin", "move"].includes(action))
    throw bad("the action is kill, poweroff, start, isolate, rejoin or move");
  if (!member || !(MEMBER_NAMES as readonly string[]).includes(member)) {
    throw bad(`name a member: ${MEMBER_NAMES.join(", ")}`);
  }
  if (rest.length > 0) throw bad(`unexpected '${rest.join(" ")}'`);
  if (action !== "kill" && signal) throw bad(`${action} takes no signal`);
  if (["poweroff", "isolate", "rejoin", "move"].includes(action) && !member.startsWith("node-"))
    throw bad(`${action} is for the nodes of a --vip stack (node-a, node-b)`);
  return {
    spec: spec.trim(),
    at,
    action: action as Fault["action"],
    member: member as MemberName,
    signal: action === "kill" ? (signal ?? "TERM") : undefined,
  };
}

/** A scenario file (.json or .yaml): a list of fault strings, as given to --fault. */
export function readScenario(path: string): Fault[] {
  if (!existsSync(path)) throw new UsageError(`--faults: file not found: ${path}`);
  let list: unknown;
  try {
    const text = readFileSync(path, "utf8");
    list = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--faults: ${path}: ${(err as Error).message.split("\n")[0]}`);
  }
  if (!Array.isArray(list) || !list.every((f) => typeof f === "string")) {
    throw new UsageError(`--faults: ${path} must hold a list of fault strings`);
  }
  return list.map(parseFault);
}
