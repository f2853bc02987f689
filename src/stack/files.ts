import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { ServiceUser } from "./system.js";

/** The soft open-file limit of this process (children inherit it). */
export function openFileLimit(): number {
  const line = readFileSync("/proc/self/limits", "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max open files"));
  const soft = line ? Number(line.split(/\s{2,}/)[1]) : NaN;
  return Number.isFinite(soft) ? soft : 1024;
}

/** Writes a file with its mode (whatever the umask) and, when we switch users, its owner. */
export function writeOwned(path: string, text: string, mode: number, owner?: ServiceUser): void {
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
  if (owner?.switchUser) chownSync(path, owner.uid, owner.gid);
}

export function makeDir(path: string, owner?: ServiceUser, mode = 0o755): void {
  mkdirSync(path, { recursive: true, mode });
  if (owner?.switchUser) chownSync(path, owner.uid, owner.gid);
}
