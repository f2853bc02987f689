import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { schemaError } from "../../src/results/io/validate.js";
import type { ResultFile } from "../../src/schema/result.js";

export const CLI = fileURLToPath(new URL("../../src/cli.js", import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  child: ChildProcess;
  done: Promise<CliResult>;
  /** Resolves when stderr has printed a line matching `re`. */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<void>;
}

/** Starts the built CLI as a user would, collecting its output; `detached` gives it a process group of its own. */
export function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 180_000,
  detached = false,
): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"], detached });
  let stdout = "";
  let stderr = "";
  const watchers: Array<{ re: RegExp; resolve: () => void }> = [];
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => {
    stderr += d;
    for (const w of watchers.splice(0)) {
      if (w.re.test(stderr)) w.resolve();
      else watchers.push(w);
    }
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      // let the pipes drain
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
  return {
    child,
    done,
    waitForStderr(re, ms = 60_000) {
      if (re.test(stderr)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`timed out waiting for ${re} in stderr:\n${stderr}`)),
          ms,
        );
        watchers.push({
          re,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
      });
    },
  };
}

export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 180_000,
): Promise<CliResult> {
  return startCli(args, env, timeoutMs).done;
}

/** The one result file a run wrote into `dir`. */
export function resultIn(dir: string): { result: ResultFile; json: string; csv: string; jsonPath: string } {
  const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  if (files.length !== 1)
    throw new Error(`expected one result in ${dir}, found ${files.join(", ") || "none"}`);
  const jsonPath = join(dir, files[0]);
  const json = readFileSync(jsonPath, "utf8");
  const csv = readFileSync(jsonPath.replace(/\.json$/, ".csv"), "utf8");
  const result = JSON.parse(json) as ResultFile;
  // Every result a test reads this way is held to the published schema, unknown fields included.
  const departs = schemaError(result, "result");
  if (departs) throw new Error(`${jsonPath} departs from schemas/result.schema.json: ${departs}`);
  return { result, json, csv, jsonPath };
}

export interface RunOutput extends CliResult {
  result: ResultFile;
  /** The result file's text, its path, and the timeline CSV beside it. */
  json: string;
  jsonPath: string;
  csv: string;
  out: string;
}

/**
 * `dcpbench run ARGS` as a user runs it, into a fresh --out directory: asserts the exit code (0 unless `code` says otherwise, stderr in the message) and returns the output
 * with the one result file the run wrote.
 */
export async function runToResult(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; code?: number; timeoutMs?: number } = {},
): Promise<RunOutput> {
  const out = mkdtempSync(join(tmpdir(), "dcpbench-run-"));
  const res = await runCli(["run", ...args, "--out", out], opts.env, opts.timeoutMs);
  assert.equal(res.code, opts.code ?? 0, res.stderr);
  return { ...res, ...resultIn(out), out };
}
