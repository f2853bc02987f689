import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";

/** A result as plain JSON, to be broken on purpose: any field, any value. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Mutable = Record<string, any>;

const tmp = () => mkdtempSync(join(tmpdir(), "dcpbench-files-"));
const jsonFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".json"));

/** Expects one line on stderr, exit 2, no stack trace; returns the line. */
function refused(res: { code: number | null; stderr: string }, what: string): string {
  assert.equal(res.code, 2, `${what}: ${res.stderr}`);
  assert.equal(res.stderr.trim().split("\n").length, 1, `${what}: ${res.stderr}`);
  assert.doesNotMatch(res.stderr, /\n\s+at /, what);
  return res.stderr;
}

describe("result files: never lost, never trusted blindly", { timeout: 300_000 }, () => {
  let stack: TestStack;
  let shards: string[];
  let single: string;
  const cli = (args: string[]) => runCli(args, stack.env, 60_000);
  const quickRun = (out: string) =>
    cli(["run", "select1", "--iterations", "5", "--conns", "1", "--progress", "off", "--out", out]);

  before(async () => {
    stack = await startStack();
    // Two shards of one plan, and an ordinary run: the files the cases below start from.
    const dir = tmp();
    const startAt = new Date(Date.now() + 4000).toISOString();
    const shardRuns = [0, 1].map((i) =>
      cli([
        "run",
        "select1",
        "--uri",
        stack.status.uris.direct,
        "--conns",
        "2",
        "--workers",
        "1",
        "--duration",
        "1s",
        "--warmup",
        "0",
        "--shard",
        `${i}/2`,
        "--start-at",
        startAt,
        "--label",
        "fleet",
        "--progress",
        "off",
        "--out",
        join(dir, `s${i}`),
      ]),
    );
    for (const r of await Promise.all(shardRuns)) assert.equal(r.code, 0, r.stderr);
    shards = [0, 1].map((i) => {
      const file = join(dir, `s${i}.json`);
      copyFileSync(join(dir, `s${i}`, jsonFiles(join(dir, `s${i}`))[0]), file);
      return file;
    });
    const one = tmp();
    const r = await quickRun(one);
    assert.equal(r.code, 0, r.stderr);
    single = join(one, jsonFiles(one)[0]);
  });
  after(async () => {
    await stack?.down();
  });

  it("two runs with one label in the same second keep two results", async () => {
    const out = tmp();
    const runs = await Promise.all(
      [1, 2].map(() =>
        cli([
          "run",
          "select1",
          "--label",
          "same",
          "--iterations",
          "20",
          "--conns",
          "1",
          "--progress",
          "off",
          "--out",
          out,
        ]),
      ),
    );
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const paths = runs.map((r) => /^result: (\S+)$/m.exec(r.stdout)?.[1]);
    assert.notEqual(paths[0], paths[1], "each run names its own file");
    assert.equal(jsonFiles(out).length, 2, readdirSync(out).join(", "));
    assert.equal(readdirSync(out).filter((f) => f.endsWith(".csv")).length, 2);
    assert.ok(!readdirSync(out).some((f) => f.includes(".tmp-")), "no file left aside");
  });

  it("merge: labels from files obey the label rules; the output is never an input nor another file", async () => {
    const dir = tmp();
    const escaped = shards.map((s, i) => {
      const r = JSON.parse(readFileSync(s, "utf8")) as { label: string; plan: { label: string } };
      r.label = r.plan.label = "../../../escaped";
      const file = join(dir, `e${i}.json`);
      writeFileSync(file, JSON.stringify(r));
      return file;
    });
    assert.match(
      refused(await cli(["merge", ...escaped]), "escaping label"),
      /e0\.json is not a valid result file: label: must match pattern/,
    );
    assert.equal(readdirSync(dir).length, 2, "nothing written");

    const before = readFileSync(shards[0], "utf8");
    assert.match(
      refused(await cli(["merge", ...shards, "--out", shards[0]]), "output = input"),
      /--out \S+s0\.json is one of the shards merged/,
    );
    assert.equal(readFileSync(shards[0], "utf8"), before);

    const out = join(tmp(), "fleet.json");
    const first = await cli(["merge", ...shards, "--out", out]);
    assert.equal(first.code, 0, first.stderr);
    const again = await cli(["merge", ...shards, "--out", out]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      /^result: \S+fleet-2\.json$/m,
      "a second merge to the same path takes a new name",
    );
  });

  it("files wrong in shape: exit 2 with the file and the field", async () => {
    const dir = tmp();
    const variant = (name: string, change: (r: Mutable) => void) => {
      const r = JSON.parse(readFileSync(single, "utf8")) as Mutable;
      change(r);
      const file = join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(r));
      return file;
    };
    const cases: Array<[string, (r: Mutable) => void, RegExp]> = [
      [
        "no-errors",
        (r) => delete r.summary.select.errors,
        /summary\.select: must have required property 'errors'/,
      ],
      ["string-number", (r) => (r.summary.__cycle__.p99 = "5"), /summary\.__cycle__\.p99: must be number/],
      ["negative", (r) => (r.summary.select.count = -1), /summary\.select\.count: must be >= 0/],
      ["huge", (r) => (r.summary.select.count = 1e308), /summary\.select\.count: must be <= /],
      ["string-version", (r) => (r.version = "1"), /has result version "1"; this dcpbench reads version 1/],
    ];
    for (const [name, change, re] of cases) {
      const file = variant(name, change);
      for (const argv of [
        ["compare", file, single],
        ["report", file, "--html", join(dir, "r.html")],
      ]) {
        const line = refused(await cli(argv), `${argv[0]} ${name}`);
        assert.match(line, new RegExp(`${name}\\.json`), line);
        assert.match(line, re, line);
      }
    }
    const badHistogram = variant("bad-histogram", (r) => {
      r.timeline[0].ops.select = {
        ...r.timeline[0].ops.select,
        histogram: Buffer.from("not hdr").toString("base64"),
      };
    });
    assert.match(
      refused(await cli(["report", badHistogram, "--html", join(dir, "r.html")]), "bad histogram"),
      /bad-histogram\.json: timeline\.0\.ops\.select\.histogram is not an HdrHistogram/,
    );
    assert.ok(!existsSync(join(dir, "r.html")), "no report written");
  });

  it("special and huge files are refused before they are read; unknown fields are not carried on", async () => {
    const dir = tmp();
    const fifo = join(dir, "fifo.json");
    execFileSync("mkfifo", [fifo]);
    assert.match(refused(await cli(["compare", fifo, single]), "fifo"), /fifo\.json is not a regular file/);
    assert.match(
      refused(await cli(["compare", "/dev/zero", single]), "/dev/zero"),
      /\/dev\/zero is not a regular file/,
    );
    const sparse = join(dir, "huge.json");
    execFileSync("truncate", ["-s", "600M", sparse]);
    assert.match(
      refused(await cli(["compare", sparse, single]), "huge"),
      /huge\.json is 600 MB: larger than a result file can be \(512 MB\)/,
    );

    // A shard with a field this version does not know: the merged result does not carry it.
    const withJunk = shards.map((s, i) => {
      const r = JSON.parse(readFileSync(s, "utf8")) as Record<string, unknown>;
      r.junk = "x".repeat(1000);
      const file = join(dir, `j${i}.json`);
      writeFileSync(file, JSON.stringify(r));
      return file;
    });
    const res = await cli(["merge", ...withJunk, "--out", join(dir, "merged.json")]);
    assert.equal(res.code, 0, res.stderr);
    assert.ok(!readFileSync(join(dir, "merged.json"), "utf8").includes("junk"));
  });

  it("control characters in a file's text never reach the terminal", async () => {
    const dir = tmp();
    const r = JSON.parse(readFileSync(single, "utf8")) as Mutable;
    r.summary["sel\u001b]0;TITLE\u0007ect"] = r.summary.select;
    delete r.summary.select;
    r.server.version = "PostgreSQL \u001b[2J15";
    const file = join(dir, "ctl.json");
    writeFileSync(file, JSON.stringify(r));
    const res = await cli(["compare", file, file]);
    assert.equal(res.code, 0, res.stderr);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(res.stdout + res.stderr, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    assert.match(res.stdout, /sel ]0;TITLE ect/);
  });

  it("a full disk: the run, merge and report leave nothing partial and save what they computed elsewhere", async (t) => {
    if (process.getuid?.() !== 0) return t.skip("needs root to mount a small tmpfs");
    const full = tmp();
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", full]);
    try {
      // Fill it, leaving a few blocks: enough for a directory, not for a result.
      spawnSync("dd", ["if=/dev/zero", `of=${join(full, "filler")}`, "bs=4k"], { stdio: "ignore" });
      rmSync(join(full, "filler"));
      spawnSync("dd", ["if=/dev/zero", `of=${join(full, "filler")}`, "bs=4k", "count=14"], {
        stdio: "ignore",
      });
      const run = await quickRun(full);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /cannot write the result to \S+ \(.*\); saved it in (\S+) instead/);
      const merged = await cli(["merge", ...shards, "--out", join(full, "m.json")]);
      assert.equal(merged.code, 0, merged.stderr);
      assert.match(
        merged.stderr,
        /cannot write the merged result to \S+ \(ENOSPC.*\); saved it in \S+ instead/,
      );
      const saved = /^result: (\S+)$/m.exec(merged.stdout)?.[1];
      assert.ok(saved && existsSync(saved), merged.stdout);
      const report = await cli(["report", single, "--html", join(full, "r.html")]);
      assert.equal(report.code, 0, report.stderr);
      assert.match(report.stderr, /cannot write the report to \S+ \(ENOSPC.*\); saved it in \S+ instead/);
      assert.ok(existsSync(report.stdout.trim()), report.stdout);
      assert.deepEqual(readdirSync(full).sort(), ["filler"], "nothing partial left on the full disk");
    } finally {
      execFileSync("umount", [full]);
    }
  });
});
