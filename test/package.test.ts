import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { startStack, type TestStack } from "./helpers/stack.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const OWN_VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string })
  .version;
const exec = promisify(execFile);

/**
 * dcpbench as a user of the published package gets it: packed, installed into an empty project of their own
 * (CommonJS, as `npm init -y` makes it, version 1.0.0), and run through npx.
 */
describe("the packed package, installed into a fresh project", { timeout: 300_000 }, () => {
  let stack: TestStack;
  let project: string;
  const npx = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
    exec("npx", ["dcpbench", ...args], { cwd: project, env, timeout: 120_000 });

  before(async () => {
    stack = await startStack();
    const dir = mkdtempSync(join(tmpdir(), "dcpbench-pkg-"));
    const { stdout } = await exec("npm", ["pack", "--pack-destination", dir, "--silent"], { cwd: ROOT });
    const tarball = join(dir, stdout.trim().split("\n").at(-1)!);
    project = join(dir, "project");
    mkdirSync(project);
    await exec("npm", ["init", "-y"], { cwd: project });
    await exec(
      "npm",
      ["install", tarball, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
      {
        cwd: project,
        timeout: 240_000,
      },
    );
  });
  after(async () => {
    await stack?.down();
  });

  it("--version is dcpbench's, not the project's", async () => {
    const { stdout } = await npx(["--version"]);
    assert.equal(stdout.trim(), OWN_VERSION);
    assert.notEqual(OWN_VERSION, "1.0.0", "the test would not tell the two apart");
  });

  it("new-workload writes a stub that runs with the command it prints, in a CommonJS project", async () => {
    const made = await npx(["new-workload", "mywl"]);
    const printed = /run it with: npx dcpbench (run \S+)/.exec(made.stdout);
    assert.ok(printed, made.stdout);
    const run = await npx(
      [
        ...printed[1].split(" "),
        "--iterations",
        "5",
        "--conns",
        "2",
        "--workers",
        "1",
        "--progress",
        "off",
      ].concat(["--uri", stack.status.uris.direct]),
      stack.env,
    );
    assert.match(run.stdout, /result: results\/direct_mywl_\S+\.json/);
    const results = readdirSync(join(project, "results")).filter((f) => f.endsWith(".json"));
    assert.equal(results.length, 1);
    const result = JSON.parse(readFileSync(join(project, "results", results[0]), "utf8"));
    assert.equal(result.summary.write.count, 5);
    assert.ok(existsSync(join(project, "mywl.mjs")));
  });
});
