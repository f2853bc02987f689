import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { resultIn, runCli, runToResult, startCli } from "./helpers/cli.js";
import { mergeInto, newHistogram } from "../src/metrics/histogram.js";
import { BUCKET_BOUNDS_S } from "../src/outputs/prometheus.js";
import { freePortBase, startStack, type TestStack } from "./helpers/stack.js";
import type { ResultFile } from "../src/schema/result.js";

const POOL = 10;
const CONNS = 60;

/**
 * Checks one exposition-format document line by line (text format 0.0.4): HELP/TYPE before samples, valid
 * metric names, well-formed labels, numeric values. Returns the samples.
 */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  const name = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const labels = `\\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\["\\\\n])*",?)*\\}`;
  const sample = new RegExp(`^(${name})(${labels})? (-?[0-9.eE+-]+|NaN|\\+Inf|-Inf)$`);
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const t = new RegExp(`^# TYPE (${name}) (counter|gauge|summary|histogram|untyped)$`).exec(line);
    if (t) {
      typed.add(t[1]);
      continue;
    }
    if (new RegExp(`^# HELP ${name} .*$`).test(line)) continue;
    const m = sample.exec(line);
    assert.ok(m, `not exposition format: ${line}`);
    const family = m[1].replace(/_(sum|count|bucket)$/, "");
    assert.ok(typed.has(m[1]) || typed.has(family), `sample before its TYPE: ${line}`);
    samples.set(m[1] + (m[2] ?? ""), Number(m[3]));
  }
  return samples;
}

/**
 * A TCP relay to host:port that can fall silent: from `silence()` on it forwards nothing either way and answers
 * no new connection, its sockets left open: what a client sees of a server whose host lost power.
 */
async function silentRelay(host: string, port: number) {
  let silent = false;
  const sockets: Socket[] = [];
  const server = createServer((client) => {
    const upstream = connect(port, host);
    sockets.push(client, upstream);
    for (const s of [client, upstream]) s.on("error", () => {});
    client.on("data", (d) => void (silent || upstream.write(d)));
    upstream.on("data", (d) => void (silent || client.write(d)));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    silence: () => (silent = true),
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe("the server side, sampled during the run", { timeout: 180_000 }, () => {
  let stack: TestStack;
  let direct: ResultFile;
  let pooled: ResultFile;
  let directPath: string;
  let pooledPath: string;

  async function run(extra: string[]): Promise<{ result: ResultFile; path: string }> {
    const args = [
      "select1",
      "--set",
      "sleep_ms=20",
      "--conns",
      String(CONNS),
      "--workers",
      "2",
      "--duration",
      "3s",
    ];
    const { result, jsonPath } = await runToResult([...args, ...extra], { env: stack.env });
    return { result, path: jsonPath };
  }

  before(async () => {
    stack = await startStack({ poolSize: POOL });
    // Direct first, so that no PgBouncer server connection is open yet.
    ({ result: direct, path: directPath } = await run(["--uri", stack.status.uris.direct]));
    ({ result: pooled, path: pooledPath } = await run(["--uri", stack.status.uris.pooled, "--txn-pooling"]));
  });
  after(async () => {
    await stack?.down();
  });

  it("direct: the database sees one session per client, and the sampler's own connection is not counted", () => {
    const s = direct.observed!.series;
    assert.equal(s.run_sessions.max, CONNS);
    assert.equal(s.db_sessions.max, CONNS, "whole server: the clients only, not the sampler");
    assert.ok(direct.timeline.every((e) => e.observed && e.observed.db_sessions <= CONNS));
    assert.equal(direct.observed!.poolWait, undefined, "no PgBouncer in a direct run");
  });

  it("pooled: the database sees about the pool size, while clients queue in PgBouncer", () => {
    const s = pooled.observed!.series;
    assert.ok(
      s.run_sessions.max <= POOL && s.run_sessions.max >= POOL / 2,
      `server sessions ${s.run_sessions.max}`,
    );
    assert.ok(s.pgb_cl_waiting.max > 0, "clients waited for a server connection");
    assert.ok(s.pgb_cl_active.max + s.pgb_cl_waiting.max >= CONNS - 1, "every client is known to PgBouncer");
    assert.ok(pooled.observed!.poolWait!.share > 0.2, `wait share ${pooled.observed!.poolWait!.share}`);
    assert.ok(pooled.timeline.some((e) => (e.observed?.pgb_cl_waiting ?? 0) > 0));
  });

  it("a sampler that cannot log in says where a password goes; the run goes on and ends without waiting", async () => {
    const u = new URL(stack.status.uris.direct);
    u.username = "nosuchrole"; // in no pgpass file
    // Before, the failed login's socket held the process until the server's authentication_timeout (60 s).
    const res = await runCli(
      [
        "run",
        "select1",
        "--duration",
        "1s",
        "--conns",
        "1",
        "--observe-uri",
        u.toString(),
        "--out",
        mkdtempSync(join(tmpdir(), "dcpbench-obs-")),
      ],
      { ...stack.env, PGPASSWORD: undefined }, // a password from the environment would be tried, and refused
      30_000,
    );
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stderr,
      /database sampler off: postgresql:\/\/nosuchrole@\S+: no password: put it in the URI, PGPASSWORD or a pgpass file \(PGPASSFILE\)/,
    );
  });

  it("a PgBouncer that falls silent mid-run (its host gone): its samples stop, and the run still ends", async () => {
    const admin = new URL(stack.status.uris.pgbouncerAdmin[0]);
    const relay = await silentRelay(admin.hostname, Number(admin.port));
    admin.port = String(relay.port);
    const out = mkdtempSync(join(tmpdir(), "dcpbench-obs-"));
    try {
      const cli = startCli(
        [
          "run",
          "select1",
          "--uri",
          stack.status.uris.pooled,
          "--txn-pooling",
          "--conns",
          "4",
          "--duration",
          "6s",
          "--warmup",
          "0s",
          "--pgbouncer-admin",
          admin.toString(),
          "--out",
          out,
        ],
        stack.env,
        // Before, the run never ended: the sampler's statement waited on a socket that TCP keeps for minutes.
        60_000,
      );
      await cli.waitForStderr(/\n\s+2\.0s/);
      relay.silence();
      const res = await cli.done;
      assert.equal(res.code, 0, res.stderr);
      const { result } = resultIn(out);
      const sampled = result.timeline.filter((e) => e.observed?.pgb_cl_active !== undefined);
      assert.ok(sampled.length > 0, "PgBouncer was sampled before it fell silent");
      // Its figures stop (none repeated from before), while the database's sampler goes on beside it.
      const last = result.timeline.at(-1)!;
      assert.equal(last.observed?.pgb_cl_active, undefined, JSON.stringify(last.observed));
      assert.ok((last.observed?.db_sessions ?? 0) > 0, JSON.stringify(last.observed));
    } finally {
      relay.close();
    }
  });

  it("the progress line and compare show the server side", async () => {
    const res = await runCli(["compare", directPath, pooledPath], stack.env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(
      res.stdout,
      new RegExp(`this run's server sessions \\(max\\): direct ${CONNS} → pooled \\d+`),
    );
    assert.match(res.stdout, /pool wait share of transaction time: direct - → pooled [\d.]+%/);
  });

  it("--prometheus-port serves valid exposition format whose counters grow", async () => {
    const port = (await freePortBase()) + 2;
    const out = mkdtempSync(join(tmpdir(), "dcpbench-prom-"));
    const cli = startCli(
      [
        "run",
        "select1",
        "--uri",
        stack.status.uris.pooled,
        "--txn-pooling",
        "--conns",
        "8",
        "--duration",
        "4s",
      ].concat(["--prometheus-port", String(port), "--out", out]),
      stack.env,
    );
    await cli.waitForStderr(/\n\s+1\.0s.*db_sessions=\d+/);
    const first = parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    await cli.waitForStderr(/\n\s+3\.0s/);
    const second = parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    const key = 'dcpbench_ops_total{run="pooled",op="__cycle__"}';
    assert.ok(
      first.get(key)! > 0 && second.get(key)! > first.get(key)!,
      `${first.get(key)} → ${second.get(key)}`,
    );
    assert.ok(second.has('dcpbench_window_latency_seconds{run="pooled",op="__cycle__",quantile="0.99"}'));
    assert.ok(second.has('dcpbench_latency_seconds_bucket{run="pooled",op="__cycle__",le="+Inf"}'));
    assert.ok(second.has('dcpbench_observed_pgb_cl_active{run="pooled"}'));
    assert.equal((await cli.done).code, 0);
  });
  it("two runs scraped at once: their summed buckets give the merged histogram's p50 and p99, to a bucket", async () => {
    // Two latency populations far apart (6 ms and 45 ms sleeps): the p50 is the first's, the p99 the second's.
    const ports = [(await freePortBase()) + 3, (await freePortBase()) + 4];
    const runs = [
      ["a", "6"],
      ["b", "45"],
    ].map(([label, sleep], i) => {
      const out = mkdtempSync(join(tmpdir(), "dcpbench-prom-"));
      const cli = startCli(
        [
          "run",
          "select1",
          "--uri",
          stack.status.uris.direct,
          "--set",
          `sleep_ms=${sleep}`,
          "--conns",
          "4",
        ].concat(
          ["--workers", "1", "--duration", "5s", "--warmup", "0", "--label", label, "--progress", "off"],
          ["--prometheus-port", String(ports[i]), "--out", out],
        ),
        stack.env,
      );
      return { out, cli };
    });
    let finished = false;
    const done = Promise.all(runs.map((r) => r.cli.done)).finally(() => (finished = true));
    const scrape = async (port: number) =>
      parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    let last: Array<Map<string, number>> | undefined;
    while (!finished) {
      // A pair taken together; once one run has closed its endpoint, the last whole pair stands.
      last = await Promise.all(ports.map(scrape)).catch(() => last);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const r of await done) assert.equal(r.code, 0, r.stderr);
    assert.ok(last, "scraped both runs at least once");

    // sum by (le) over the two runs, then Prometheus' histogram_quantile: the bucket the rank falls in.
    const buckets = new Map<string, number>();
    for (const [i, samples] of last.entries()) {
      const run = ["a", "b"][i];
      const ops = samples.get(`dcpbench_ops_total{run="${run}",op="__cycle__"}`);
      const count = samples.get(`dcpbench_latency_seconds_count{run="${run}",op="__cycle__"}`);
      assert.ok(
        ops! > 0 && count === ops,
        `${run}: the histogram counts every op the counter does (${count}, ${ops})`,
      );
      for (const [key, v] of samples) {
        const m = new RegExp(
          `^dcpbench_latency_seconds_bucket\\{run="${run}",op="__cycle__",le="([^"]+)"\\}$`,
        ).exec(key);
        if (m) buckets.set(m[1], (buckets.get(m[1]) ?? 0) + v);
      }
    }
    const les = [...buckets.keys()]
      .filter((le) => le !== "+Inf")
      .map(Number)
      .sort((x, y) => x - y);
    assert.deepEqual(les, [...BUCKET_BOUNDS_S], "the same bounds in both runs");
    const total = buckets.get("+Inf")!;
    const bucketOf = (q: number): [number, number] => {
      const i = les.findIndex((le) => buckets.get(String(le))! >= q * total);
      return [i > 0 ? les[i - 1] : 0, les[i]];
    };

    const merged = newHistogram();
    mergeInto(
      merged,
      runs.map((r) => resultIn(r.out).result.summary.__cycle__.histogram),
    );
    for (const q of [0.5, 0.99]) {
      const hdrSec = merged.getValueAtPercentile(q * 100) / 1e6;
      const [lo, hi] = bucketOf(q);
      // HDR reports a bucket's highest value, the exporter files it by its lowest: 0.1% apart at most.
      assert.ok(lo < hdrSec && hdrSec <= hi * 1.001, `p${q * 100}: HDR ${hdrSec} s, buckets (${lo}, ${hi}]`);
    }
    assert.ok(
      bucketOf(0.5)[1] <= bucketOf(0.99)[0],
      "the two populations' quantiles fall in different buckets",
    );
  });
});
