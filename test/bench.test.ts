import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { before, describe, it } from "node:test";

const BENCH = fileURLToPath(new URL("../bench/harness.js", import.meta.url));
const SERVER_BENCH = fileURLToPath(new URL("../bench/server-side.js", import.meta.url));
const SWEEP_BENCH = fileURLToPath(new URL("../bench/sweep.js", import.meta.url));
const MERGE_BENCH = fileURLToPath(new URL("../bench/merge.js", import.meta.url));

/** Runs a benchmark script at its tiny size into a file of its own; asserts it succeeded; its Markdown. */
async function quickReport(script: string): Promise<string> {
  const out = join(mkdtempSync(join(tmpdir(), "dcpbench-bench-")), "report.md");
  const [code, stderr] = await new Promise<[number, string]>((resolve) =>
    execFile(
      process.execPath,
      [script, "--quick", "--out", out],
      { timeout: 240_000, maxBuffer: 64 << 20 },
      (err, _stdout, stderr) => resolve([err ? ((err as { code?: number }).code ?? 1) : 0, stderr]),
    ),
  );
  assert.equal(code, 0, `${script} --quick exited ${code}: ${stderr.slice(-2000)}`);
  return readFileSync(out, "utf8");
}

// The benchmark's numbers live in BENCHMARKS.md, measured by its own command; a timed assertion here would
// flake on a shared machine. The suite only proves that the benchmark runs end to end at a tiny size.
describe("the benchmark command", { timeout: 300_000 }, () => {
  // All four at once: at --quick nothing is measured, only run, and each has a stack of its own.
  const reports = new Map<string, Promise<string>>();
  const report = (script: string) => reports.get(script)!;
  before(() => {
    for (const script of [BENCH, SERVER_BENCH, SWEEP_BENCH, MERGE_BENCH]) {
      const md = quickReport(script);
      md.catch(() => {}); // awaited by its test
      reports.set(script, md);
    }
  });

  it("runs every part at a tiny size and writes its report", async () => {
    const md = await report(BENCH);
    for (const section of [
      "1. Ceiling",
      "2. Harness overhead",
      "3. Scale",
      "4. Pacing",
      "5. Latency agreement",
    ]) {
      assert.match(md, new RegExp(`## ${section.replace(".", "\\.")}`), section);
    }
    // At 1 s on a host running four benches, pgbench may finish no transaction: its cells then say so ("—").
    const pgbenchCells = String.raw`(?:\d+ \| [\d.]+|— \| —)`;
    // The failure message carries the table itself: CI's log shows a message whole, not a long "actual".
    const table = md
      .split("\n")
      .filter((l) => /^\| (simple|extended|prepared) \|/.test(l))
      .join("\n");
    assert.match(
      md,
      new RegExp(String.raw`\| simple \| lean \| 1 \| \d+ \| ${pgbenchCells} \|`),
      `a ceiling row:\n${table}`,
    );
    assert.match(
      md,
      new RegExp(String.raw`\| simple \| pg \| 1 \| \d+ \| ${pgbenchCells} \|`),
      `pg's own path beside it:\n${table}`,
    );
    assert.match(md, /connected 200 of 200; \d+ cycles .* errors 0/);
    assert.match(
      md,
      /\| 1 \| CPU \d+ \| [\d.]+\/s \(-?[\d.]+%\) \| \d+ \| [\d.]+ ms \| \*\*[\d.]+ ms\*\* \|/,
      "a pinned pacing run",
    );
    assert.match(md, /furthest from 500\/s: \*\*-?[\d.]+%\*\*/);
    assert.match(
      md,
      /simple, lean: (median tps ratio \*\*[\d.]+\*\*|no pair measured \(pgbench completed no transaction\))/,
    );
    assert.match(
      md,
      /pinned to CPU \d+: .* p99, median of the rounds: \*\*[\d.]+ ms\*\* \(pgbench's: [\d.]+ ms\)/,
    );
    assert.match(md, /not pinned: .* p99, median of the rounds: \*\*[\d.]+ ms\*\* \(pgbench's: [\d.]+ ms\)/);
    assert.match(md, /without `--ramp` .*: lag p50 [\d.]+ ms, p99 [\d.]+ ms/);
    assert.match(
      md,
      /median of the pairs' differences: p50 \*\*-?\d+% \(-?[\d.]+ ms\)\*\*, p99 \*\*-?\d+% \(-?[\d.]+ ms\)\*\*/,
    );
    assert.match(
      md,
      /each tool's median: p50 [\d.]+ vs [\d.]+ ms, p99 [\d.]+ vs [\d.]+ ms\); dcpbench's lag p99, median \*\*[\d.]+ ms\*\*/,
    );
    assert.match(md, /^- 400\/s: median of the pairs' differences/m, "both rates");
    assert.match(md, /## 11\. Connect per transaction/);
    // Each measured section ends with the steal it met (this machine is a VM: a neighbour's burst shows there).
    assert.equal(md.match(/^CPU steal during this section \(.*\): \d+\.\d%\.$/gm)?.length, 6);
    assert.match(md, /^Total time: \d+ s; CPU steal over the whole bench \d+\.\d%\.$/m);
    assert.match(
      md,
      /^- pooled, pgbench, no SSL\/GSS negotiation: median \*\*\d+ cycles\/s\*\*, client CPU \*\*[\d.]+ ms\*\*/m,
    );
  });

  it("the server-side benchmark runs every part at a tiny size and writes its section", async () => {
    const md = await report(SERVER_BENCH);
    assert.match(md, /^<!-- bench:server-side begin -->/);
    assert.match(md, /<!-- bench:server-side end -->\n$/);
    for (const section of [
      "6. What sampling the server costs",
      "7. What pg_stat_statements costs",
      "8. The seed's table",
    ])
      assert.match(md, new RegExp(`## ${section.replace(".", "\\.")}`), section);
    assert.match(md, /median of the pairs: \*\*[+-][\d.]+%\*\* \(sampling on against sampling off\)/);
    assert.match(md, /\| server memory \| [\d.]+ MB \| [\d.]+ MB \| [+-][\d.]+% \|/);
    assert.match(md, /\| PgBouncer CPU % \| - \| [\d.]+% \| - \|/);
  });

  it("the sweep benchmark runs dcpbench's sweeps and pgbench at the same points, and writes its section", async () => {
    const md = await report(SWEEP_BENCH);
    assert.match(md, /^<!-- bench:sweep begin -->\n## 9\. Where pooling starts to pay/);
    assert.match(md, /<!-- bench:sweep end -->\n$/);
    for (const script of ["select-only", "tpcb-like"]) {
      assert.match(md, new RegExp(`### tpcb ${script}`));
    }
    assert.match(md, /│\s+4 │ pooled │\s+1 │/, "a row of dcpbench's table");
    assert.match(md, /│ clients │ target │ runs │\s+tps │/, "pgbench's table");
    assert.match(md, /^- dcpbench, throughput \(pooled vs direct\): /m);
    assert.match(md, /^- pgbench, p99 \(pooled vs direct\): /m);
    assert.match(md, /### flight/);
  });

  it("the merge benchmark merges synthetic shards and a real fleet of three, and writes its section", async () => {
    const md = await report(MERGE_BENCH);
    assert.match(md, /^<!-- bench:merge begin -->\n## 10\. Merging shards/);
    assert.match(
      md,
      /3 synthetic shards × 20 one-second intervals.*median \*\*[\d.]+ s\*\*.*median \*\*\d+ MB\*\*/,
    );
    assert.match(md, /Three shards of .* merged: \d+ cycles \(shards \d+ \+ \d+ \+ \d+\), \*\*[\d.]+\/s\*\*/);
    assert.match(md, /<!-- bench:merge end -->\n$/);
  });
});
