import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import type { Browser } from "playwright-core";
import { decode, encode, newHistogram, record } from "../src/metrics/histogram.js";
import { buildReportData } from "../src/results/report/data.js";
import type { BarChart, LineChart, ReportData } from "../src/results/report/model.js";
import { PALETTE } from "../src/results/report/html.js";
import {
  CHROMIUM,
  drawnCharts,
  launchChromium,
  openFile,
  tableCells,
  translucentAt,
  type OpenedPage,
} from "./helpers/browser.js";
import { resultIn, runCli, type CliResult } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";
import { CONNECT, CYCLE, type TimelineEntry } from "../src/schema/measures.js";
import type { ResultFile } from "../src/schema/result.js";

/** `report` as a user runs it, through the CLI. */
function report(_t: TestContext, args: string[]): Promise<CliResult> {
  return runCli(["report", ...args]);
}

const observedOf = (e: TimelineEntry) => (e as { observed?: Record<string, number> }).observed;

function assertCleanPage(opened: OpenedPage): void {
  assert.deepEqual(opened.pageErrors, [], "no uncaught errors in the page");
  assert.deepEqual(opened.consoleErrors, [], "no console errors");
  assert.deepEqual(opened.requests, [], "the page loads nothing: it works offline");
}

describe("dcpbench report", { timeout: 300_000 }, () => {
  let stack: TestStack;
  let browser: Browser;
  let dir: string;
  let direct: string;
  let pooled: string;

  before(async () => {
    // A missing browser fails the test (CI installs Debian's chromium); it never skips.
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (as root)`);
    dir = mkdtempSync(join(tmpdir(), "dcpbench-report-"));
    stack = await startStack();
    const run = async (label: string, uri: string, extra: string[]) => {
      const out = join(dir, label);
      const res = await runCli(
        ["run", "select1", "--uri", uri, ...extra, "--duration", "3s", "--conns", "8"].concat([
          "--progress",
          "off",
          "--out",
          out,
        ]),
        stack.env,
      );
      assert.equal(res.code, 0, res.stderr);
      return resultIn(out).jsonPath;
    };
    direct = await run("direct", stack.status.uris.direct, []);
    pooled = await run("pooled", stack.status.uris.pooled, ["--txn-pooling"]);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await stack?.down();
  });

  it("a direct and a pooled run: one self-contained page, every chart drawn in Chromium", async (t) => {
    const html = join(dir, "report.html");
    const res = await report(t, [direct, pooled, "--html", html]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), html, "prints the written path");

    const text = readFileSync(html, "utf8");
    assert.doesNotMatch(
      text,
      /<script[^>]*\ssrc=|<link\b|<img\b|<iframe\b|@import|url\(/i,
      "nothing to fetch",
    );

    const opened = await openFile(browser, html);
    const { page } = opened;
    await page.waitForSelector("body[data-charts]", { timeout: 30_000 });
    assertCleanPage(opened);

    // The summary table: one row per run × op, each with its run's name and the op.
    const files = [direct, pooled];
    const results = files.map((p) => JSON.parse(readFileSync(p, "utf8")) as ResultFile);
    const expected = results.flatMap((r) => Object.keys(r.summary).map((op) => `${r.label} ${op}`)).sort();
    const rows = await tableCells(page, "#summary tbody tr");
    assert.deepEqual(rows.map((cells) => `${cells[0]} ${cells[1]}`).sort(), expected);
    const runs = await tableCells(page, "#runs tbody tr");
    for (const [i, r] of results.entries()) {
      const cycle = rows.find((c) => c[0] === r.label && c[1] === CYCLE)!;
      assert.equal(Number(cycle[2]), r.summary[CYCLE].count, `${r.label} ${CYCLE} count`);
      assert.ok(
        rows.some((c) => c[0] === r.label && c[1] === CONNECT),
        `${r.label} has its ${CONNECT} row`,
      );
      const run = runs[i];
      // the run's name, with its file name under it
      assert.deepEqual(run.slice(0, 3), [r.label + basename(files[i]), "select1", "8"], `runs table: ${run}`);
      assert.match(run[4], r.plan.txnPooling ? /^txn-pooling/ : /^session/);
    }

    // Every chart drew its series: pixels of each run's colour on its canvas.
    const charts = await drawnCharts(page);
    const ids = charts.map((c) => c.id);
    for (const id of ["throughput", "p50", "p99", "spectrum", "op-mean", "op-p99", "errors"]) {
      assert.ok(ids.includes(`chart-${id}`), `chart-${id} is on the page (${ids.join(", ")})`);
    }
    const observedKeys = new Set(
      results.flatMap((r) => r.timeline.flatMap((e) => Object.keys(observedOf(e) ?? {}))),
    );
    assert.equal(charts.length, 7 + observedKeys.size, "a chart per server-side series the runs carry");
    for (const c of charts) {
      assert.ok(!c.failed && c.painted > 500, `${c.id} (${c.title}) drew (${c.painted} pixels)`);
      const drawn = c.colors.map((col, k) => `${col}=${c.hits[k]}`).join(" ");
      assert.ok(
        c.hits.some((h) => h > 0),
        `${c.id}: a series is drawn: ${drawn}`,
      );
      // The core charts show each run apart. Errors (all zero) and server-side series can coincide.
      if (!/^chart-(errors|observed-)/.test(c.id)) {
        assert.equal(c.colors.length, 2, `${c.id}: a series per run`);
        assert.ok(
          c.hits.every((h) => h > 0),
          `${c.id}: each run's series is drawn: ${drawn}`,
        );
      }
    }

    const png = join(dir, "report.png");
    await page.screenshot({ path: png, fullPage: true });
    t.diagnostic(`report: ${html}`);
    t.diagnostic(`screenshot: ${png}`);
    await page.close();
  });

  it("escapes what it embeds, names runs that share a label by file, shades the ramp, draws observed series", async (t) => {
    const base = JSON.parse(readFileSync(pooled, "utf8")) as ResultFile;
    // Labels are held to the label rules when read; a workload's and an op's name are free text.
    const evilLabel = `</script><script>window.__pwned = 1</script><!-- "quoted" & 'single' <b>bold</b>`;
    const crafted = {
      ...base,
      label: "crafted",
      workload: evilLabel,
      summary: { ...base.summary, [evilLabel]: base.summary[CYCLE] },
      timeline: base.timeline.map((e, i) => ({
        ...e,
        ramp: i === 0,
        observed: { db_sessions: 8 - (i % 2), cl_waiting: 10 * i, "</script>": i },
      })),
    };
    const evil = join(dir, "evil.json");
    writeFileSync(evil, JSON.stringify(crafted));
    const twin = join(dir, "direct-twin.json");
    copyFileSync(direct, twin);

    const html = join(dir, "crafted.html");
    const res = await report(t, [direct, evil, twin, "--html", html]);
    assert.equal(res.code, 0, res.stderr);
    const opened = await openFile(browser, html);
    const { page } = opened;
    await page.waitForSelector("body[data-charts]", { timeout: 30_000 });
    assertCleanPage(opened);
    assert.equal(await page.evaluate("typeof window.__pwned"), "undefined", "no injected script ran");
    const runs = await tableCells(page, "#runs tbody tr");
    assert.deepEqual(
      runs.map((cells) => cells[0]),
      [
        `direct (${basename(direct)})${basename(direct)}`,
        "craftedevil.json",
        "direct (direct-twin.json)direct-twin.json",
      ],
    );
    assert.equal(runs[1][1], evilLabel, "the workload's name shows verbatim");
    const summary = await tableCells(page, "#summary tbody tr");
    assert.ok(
      summary.some((c) => c[0] === "crafted" && c[1] === evilLabel),
      "the op's name shows verbatim",
    );

    const charts = await drawnCharts(page);
    for (const c of charts) {
      assert.ok(!c.failed && c.painted > 500, `${c.id} drew`);
      assert.ok(
        c.hits.some((h) => h > 0),
        `${c.id}: a series is drawn`,
      );
    }
    const observed = new Map(
      charts.filter((c) => c.id.startsWith("chart-observed-")).map((c) => [c.title, c]),
    );
    for (const key of ["db_sessions", "cl_waiting", "</script>"]) assert.ok(observed.has(key), key);
    // Keys only the crafted run carries: one line, in its colour (the second run's).
    assert.deepEqual(observed.get("cl_waiting")!.colors, [PALETTE[1]]);
    assert.deepEqual(observed.get("</script>")!.colors, [PALETTE[1]]);

    // The ramp interval (the crafted run's first) is shaded on the time charts, and only there.
    const data = JSON.parse(await page.$eval("#report-data", (el) => el.textContent ?? "")) as {
      sections: Array<{ charts: LineChart[] }>;
    };
    const throughput = data.sections[0].charts[0];
    assert.equal(throughput.id, "chart-throughput");
    const [band] = throughput.bands;
    assert.equal(band?.run, 1, "the band belongs to the crafted run");
    const span: [number, number] = [0, throughput.x[throughput.x.length - 1]]; // time charts start at 0
    const inside = await translucentAt(page, throughput.id, span, (band.from + band.to) / 2);
    const outside = await translucentAt(page, throughput.id, span, (band.to + span[1]) / 2);
    assert.ok(inside > 0.8 && outside < 0.2, `shaded inside the ramp (${inside}), not after it (${outside})`);

    const png = join(dir, "crafted.png");
    await page.screenshot({ path: png, fullPage: true });
    t.diagnostic(`screenshot: ${png}`);
    await page.close();
  });

  it("a corrupt or foreign result file: exit 2, one line, no page written", async (t) => {
    const truncated = join(dir, "truncated.json");
    writeFileSync(truncated, readFileSync(direct, "utf8").slice(0, 200));
    const foreign = join(dir, "foreign.json");
    writeFileSync(foreign, JSON.stringify({ schema: "something.else", version: 1 }));
    const csv = direct.replace(/\.json$/, ".csv"); // the run's own CSV, given by mistake (a glob would)
    const cases: Array<[string, RegExp]> = [
      [truncated, /truncated\.json is not a readable result file/],
      [foreign, /foreign\.json is not a dcpbench result file/],
      [csv, /\.csv is not a readable result file/],
      [join(dir, "missing.json"), /result file not found/],
    ];
    for (const [bad, message] of cases) {
      const html = join(dir, "never.html");
      const res = await report(t, [direct, bad, "--html", html]);
      assert.equal(res.code, 2, `${bad}: ${res.stderr}`);
      const lines = res.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, `one line: ${JSON.stringify(res.stderr)}`);
      assert.match(lines[0], /^dcpbench: /);
      assert.match(lines[0], message);
      assert.equal(existsSync(html), false, "no page is written");
    }
    const noHtml = await report(t, [direct]);
    assert.equal(noHtml.code, 2, "--html is required");
  });
});

interface FakeInterval {
  t: number;
  dt: number;
  /** __cycle__ latencies (ms) of this interval; the op "q" gets the same. */
  lat: number[];
  ramp?: boolean;
  errors?: number;
  observed?: Record<string, number>;
}

/** A result file as `run` writes it, with exactly the given intervals (for checks that need no server). */
function fakeResult(label: string, intervals: FakeInterval[], intervalMs = 1000): ResultFile {
  const total = newHistogram();
  const timeline = intervals.map((iv, i) => {
    const h = newHistogram();
    for (const ms of iv.lat) {
      record(h, ms * 1000);
      if (!iv.ramp) record(total, ms * 1000);
    }
    const p = (q: number) => h.getValueAtPercentile(q) / 1000;
    const op = {
      count: iv.lat.length,
      errors: 0,
      skipped: 0,
      retries: 0,
      p50: p(50),
      p95: p(95),
      p99: p(99),
    };
    const entry = {
      seq: i + 1,
      t: iv.t,
      dt: iv.dt,
      ramp: iv.ramp ?? false,
      reconnects: 0,
      ops: {
        [CYCLE]: { ...op, max: p(100), histogram: iv.lat.length ? encode(h) : undefined },
        q: { ...op, errors: iv.errors ?? 0, max: p(100), histogram: iv.lat.length ? encode(h) : undefined },
      },
      ...(iv.observed ? { observed: iv.observed } : {}),
    };
    h.destroy();
    return entry;
  });
  const op = (count: number, skipped = 0) => ({
    count,
    rate: count,
    mean: total.mean / 1000,
    min: 0,
    p50: 0,
    p90: 0,
    p95: 0,
    p99: total.getValueAtPercentile(99) / 1000,
    p999: 0,
    max: 0,
    errors: { connection: 0, serialization: 0, timeout: 0, other: 0 },
    sqlstates: {},
    skipped,
    retries: 0,
    histogram: encode(total),
  });
  const n = total.totalCount;
  const result = {
    schema: "dcpbench.result",
    version: 1,
    label,
    workload: "fake",
    plan: {
      workload: "fake",
      conns: 4,
      workers: 1,
      rampMs: 0,
      intervalMs,
      txnPooling: false,
      queryMode: "simple",
    },
    server: { product: "postgres", version: "PostgreSQL 15.0 on x" },
    elapsedSec: 3,
    partial: false,
    stopReason: "duration",
    clients: { planned: 4, connected: 4, failedToConnect: 0 },
    summary: { q: op(n), never: op(0, n), [CYCLE]: op(n), [CONNECT]: op(4) },
    timeline,
  };
  total.destroy();
  return result as unknown as ResultFile;
}

const chartById = (data: ReportData, id: string) =>
  data.sections.flatMap((s) => s.charts).find((c) => c.id === id);
const lineChart = (data: ReportData, id: string) => chartById(data, id) as LineChart;
const barChart = (data: ReportData, id: string) => chartById(data, id) as BarChart;

describe("report data (no server)", () => {
  const ms = (n: number, v: number) => Array<number>(n).fill(v);

  it("rates are count/dt; the stop's sliver and an out-of-order dt-0 snapshot fold into the interval before", () => {
    const a = fakeResult("direct", [
      { t: 1, dt: 1, lat: ms(100, 2) },
      { t: 2, dt: 1, lat: ms(200, 2) },
      { t: 3, dt: 1, lat: ms(300, 2), errors: 2 },
      { t: 3.004, dt: 0.004, lat: ms(4, 50), errors: 1 }, // the stop: 4 slow cycles in 4 ms
      { t: 3.003, dt: 0, lat: ms(2, 2) }, // a worker's later final snapshot, with an earlier clock
    ]);
    const data = buildReportData([{ path: "/r/a.json", result: a }]);
    const throughput = lineChart(data, "chart-throughput");
    assert.deepEqual(throughput.x, [1, 2, 3.004]);
    assert.deepEqual(
      throughput.series[0].values.map((v) => +v!.toFixed(3)),
      [100, 200, +(306 / 1.004).toFixed(3)],
    );
    // The folded interval's p99 comes from its merged histogram: 4 of 306 cycles at 50 ms → p99 is 50 ms.
    assert.ok(Math.abs(lineChart(data, "chart-p99").series[0].values[2]! - 50) < 0.1);
    assert.ok(Math.abs(lineChart(data, "chart-p50").series[0].values[2]! - 2) < 0.01);
    assert.deepEqual(
      lineChart(data, "chart-errors").series[0].values,
      [0, 0, 3],
      "errors of ops, not of the cycle",
    );
    assert.equal(data.notes.length, 1, data.notes.join("\n"));
  });

  it("runs sharing a label are told apart by file; x values are joined; ramp intervals become bands", () => {
    const a = fakeResult("pooled", [
      { t: 1, dt: 1, lat: ms(10, 1), ramp: true },
      { t: 2, dt: 1, lat: ms(10, 1), ramp: true },
      { t: 3, dt: 1, lat: ms(10, 1), observed: { cl_waiting: 5 } },
    ]);
    const b = fakeResult("pooled", [
      { t: 1.5, dt: 1.5, lat: ms(10, 1) },
      { t: 2.5, dt: 1, lat: ms(10, 1) },
    ]);
    const data = buildReportData([
      { path: "/x/a.json", result: a },
      { path: "/y/b.json", result: b },
    ]);
    assert.deepEqual(
      data.runs.map((r) => r.name),
      ["pooled (a.json)", "pooled (b.json)"],
    );
    const throughput = lineChart(data, "chart-throughput");
    assert.deepEqual(throughput.x, [1, 1.5, 2, 2.5, 3]);
    assert.deepEqual(throughput.series[1].values, [null, 10 / 1.5, null, 10, null]);
    assert.deepEqual(throughput.bands, [{ run: 0, from: 0, to: 2 }]);
    const observed = lineChart(data, "chart-observed-0");
    assert.equal(observed.title, "cl_waiting");
    assert.deepEqual(
      observed.series.map((s) => s.run),
      [0],
      "a server-side series only for the runs that carry it",
    );
  });

  it("the percentile spectrum reads the cumulative histogram; bars leave out __connect__ and never-run ops", () => {
    // 1000 cycles: 990 at 1 ms, 9 at 10 ms, 1 at 100 ms.
    const lat = [...ms(990, 1), ...ms(9, 10), 100];
    const r = fakeResult("direct", [{ t: 1, dt: 1, lat }]);
    const data = buildReportData([{ path: "a.json", result: r }]);
    const spectrum = lineChart(data, "chart-spectrum");
    assert.equal(spectrum.x[0], 0);
    assert.equal(spectrum.x[spectrum.x.length - 1], 3, "up to 1 − 1/count: 99.9% for 1000 samples");
    const at = (x: number) => spectrum.series[0].values[spectrum.x.findIndex((v) => Math.abs(v - x) < 1e-9)]!;
    const h = decode(r.summary[CYCLE].histogram);
    assert.equal(at(1), h.getValueAtPercentile(90) / 1000);
    assert.equal(at(2), h.getValueAtPercentile(99) / 1000);
    assert.ok(at(2) < 1.1 && at(2.5) > 9 && at(3) > 9, `${at(2)} ${at(2.5)} ${at(3)}`);
    const values = spectrum.series[0].values as number[];
    assert.ok(
      values.every((v, i) => i === 0 || v >= values[i - 1]),
      "never decreasing",
    );
    h.destroy();
    assert.deepEqual(barChart(data, "chart-op-p99").groups, ["q", CYCLE]);
    // …but the table has every op of the run, __connect__ and the never-run one included.
    assert.deepEqual(
      data.rows.map((row) => row.op),
      ["q", "never", CYCLE, CONNECT],
    );
  });
});
