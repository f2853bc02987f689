import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { readResult } from "../src/results/io/read.js";
import { runCli } from "./helpers/cli.js";

/** Result files written by dcpbench at 50dd999, before the schema moved to src/schema (a pooled run with faults). */
const FIXTURES = fileURLToPath(new URL("../../test/fixtures/results-50dd999/", import.meta.url));
const direct = join(FIXTURES, "direct.json");
const pooled = join(FIXTURES, "pooled.json");

/** The same file as one written before `driver`, `arrival`, `stalls` and the `abandoned` counter existed. */
function olderFile(): string {
  const r = JSON.parse(readFileSync(pooled, "utf8"));
  delete r.plan.driver;
  delete r.plan.arrival;
  delete r.stalls;
  delete r.counters.abandoned;
  for (const a of r.availability) delete a.stall;
  const path = join(mkdtempSync(join(tmpdir(), "dcpbench-old-")), "older.json");
  writeFileSync(path, JSON.stringify(r));
  return path;
}

describe("result files written before the schema moved still read", () => {
  it("readResult: the fixtures as written; an older file gets the values its run used", () => {
    const d = readResult(direct);
    const p = readResult(pooled);
    assert.equal(d.plan.driver, "lean");
    assert.equal(p.faults.length, 2);
    assert.ok(p.availability[0].clientsAffected > 0);
    const old = readResult(olderFile());
    assert.equal(old.plan.driver, "pg", "files from before --driver were written by pg's Client.query");
    assert.equal(old.plan.arrival, "uniform");
    assert.equal(old.counters.abandoned, 0);
    assert.equal(old.stalls, undefined, "a stall list the file never had is not made up");
  });

  it("compare reads them: the table, and --fail-if over them", async () => {
    const res = await runCli(["compare", direct, pooled]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /fixture-pooled vs fixture-direct|fixture-direct/);
    assert.match(res.stdout, /__cycle__/);
    const older = await runCli(["compare", direct, olderFile(), "--format", "json"]);
    assert.equal(older.code, 0, older.stderr);
    assert.ok(JSON.parse(older.stdout));
  });

  it("report reads them: one page with both runs", async () => {
    const html = join(mkdtempSync(join(tmpdir(), "dcpbench-oldrep-")), "report.html");
    const res = await runCli(["report", direct, olderFile(), "--html", html]);
    assert.equal(res.code, 0, res.stderr);
    const page = readFileSync(html, "utf8");
    assert.match(page, /fixture-direct/);
    assert.match(page, /fixture-pooled/);
  });
});
