import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
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
  let tarball: string;
  const npx = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
    exec("npx", ["dcpbench", ...args], { cwd: project, env, timeout: 120_000 });

  /** This checkout's TypeScript, strict, as a user's ESM project compiles: against the installed package. */
  const tsc = (files: string[]) =>
    exec(
      process.execPath,
      [
        join(ROOT, "node_modules", "typescript", "bin", "tsc"),
        "--strict",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--target",
        "es2022",
        ...files,
      ],
      { cwd: project, timeout: 120_000 },
    );

  before(async () => {
    stack = await startStack();
    const dir = mkdtempSync(join(tmpdir(), "dcpbench-pkg-"));
    // A clean checkout of this tree: its tracked and new files, no dist/ (so `npm pack` must build), with this
    // checkout's node_modules for the build's TypeScript.
    const clean = join(dir, "clean");
    const files = (await exec("git", ["ls-files", "-z", "-co", "--exclude-standard"], { cwd: ROOT })).stdout
      .split("\0")
      .filter((f) => f && !f.startsWith("dist/") && existsSync(join(ROOT, f)));
    for (const f of files) cpSync(join(ROOT, f), join(clean, f));
    symlinkSync(join(ROOT, "node_modules"), join(clean, "node_modules"));
    const { stdout } = await exec("npm", ["pack", "--pack-destination", dir, "--silent"], {
      cwd: clean,
      timeout: 240_000,
    });
    tarball = join(dir, stdout.trim().split("\n").at(-1)!);
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
  it("the tarball holds what runs, and nothing of the checkout's tests, benches, sources or CI", async () => {
    const listed = (await exec("tar", ["tzf", tarball])).stdout.split("\n").filter(Boolean);
    for (const needed of [
      "package/dist/src/cli.js",
      "package/dist/src/api.js",
      "package/dist/src/api.d.ts",
      "package/dist/src/runner/worker.js",
      "package/dist/workloads/flight.js",
      "package/schemas/result.schema.json",
      "package/schemas/flight/postgres/populate.sql",
      "package/README.md",
    ]) {
      assert.ok(listed.includes(needed), `${needed} is in the tarball`);
    }
    const stray = listed.filter(
      (f) =>
        /^package\/(test|bench|scripts|deploy|results|src|\.ci|\.dcpbench|dist\/test|dist\/bench)\//.test(
          f,
        ) || /\.(map|ts)$/.test(f.replace(/\.d\.ts$/, "")),
    );
    assert.deepEqual(stray, [], "files that do not run");
  });

  it("a TypeScript workload imports the package's API with its types, type-checks strictly, and runs", async () => {
    writeFileSync(
      join(project, "typed.mts"),
      `import { defineWorkload, type Session } from "dcpbench";

const read = (session: Session, id: number) => session.query<{ n: number }>("SELECT $1::int AS n", [id]);

export default defineWorkload({
  name: "typed",
  description: "a typed workload",
  opNames: () => ["read"],
  knobs: { ids: { default: 10, min: 1, description: "ids to draw from" } },
  cycle: (ctx) => [{ name: "read", run: (s) => read(s, ctx.randomInt(1, ctx.knobs.ids)) }],
});
`,
    );
    await tsc(["typed.mts"]);
    assert.ok(existsSync(join(project, "typed.mjs")));
    const run = await npx(
      [
        "run",
        "./typed.mjs",
        "--iterations",
        "4",
        "--conns",
        "2",
        "--workers",
        "1",
        "--progress",
        "off",
      ].concat(["--uri", stack.status.uris.direct]),
      stack.env,
    );
    const path = /result: (\S+\.json)/.exec(run.stdout)?.[1];
    assert.ok(path, run.stdout);
    const result = JSON.parse(readFileSync(join(project, path), "utf8"));
    assert.equal(result.summary.read.count, 4);
  });

  it("the types are enforced: a number knob used as a string does not compile", async () => {
    writeFileSync(
      join(project, "wrong.mts"),
      `import { defineWorkload } from "dcpbench";

export default defineWorkload({
  name: "wrong",
  description: "a knob of the wrong type",
  knobs: { ids: { default: 10, description: "ids" } },
  cycle: (ctx) => {
    const label: string = ctx.knobs.ids;
    return [{ name: label, skip: true }];
  },
});
`,
    );
    await assert.rejects(tsc(["wrong.mts"]), (err: { stdout?: string }) => {
      assert.match(
        err.stdout ?? "",
        /wrong\.mts\(8,11\): error TS2322: Type 'number' is not assignable to type 'string'/,
      );
      return true;
    });
  });
});
