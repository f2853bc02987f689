import { existsSync, readFileSync } from "node:fs";
import type { VipEvent } from "../schema/events.js";
import { readStackConfig, type StackPaths } from "./layout.js";

/**
 * The VIP manager's state changes on a `--vip` stack since `t0` (epoch ms), in seconds after it, as keepalived's
 * notify script or Pacemaker's alert agent wrote them; undefined on any other stack.
 */
export function vipEvents(paths: StackPaths, t0: number): VipEvent[] | undefined {
  if (!readStackConfig(paths)?.vip) return undefined;
  if (!existsSync(paths.vip.events)) return [];
  return readFileSync(paths.vip.events, "utf8")
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length === 3 && Number.isFinite(Number(f[0])))
    .map(([epoch, node, state]) => ({ at: +(Number(epoch) - t0 / 1000).toFixed(3), node, state }))
    .filter((e) => e.at >= 0);
}
