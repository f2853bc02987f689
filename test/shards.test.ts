import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { countsOf, decode } from "../src/metrics/histogram.js";
import { CYCLE } from "../src/schema/measures.js";
import type { ResultFile } from "../src/schema/result.js";
import { CLI, runCli } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";

const DEPLOY = fileURLToPath(new URL("../../deploy/kubernetes/", import.meta.url));
const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

interface Container {
  command: string[];
  args: string[];
  env?: Array<{ name: string; value: string }>;
}
const containerOf = (file: string): Container =>
  (
    parse(readFileSync(join(DEPLOY, file), "utf8")) as {
      spec: { template: { spec: { containers: Container[] } } };
    }
  ).spec.template.spec.containers[0];

/** A free loopback port, for each shard's Prometheus endpoint (pods have one each; here they share a host). */
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** Runs a container's command as the pod would, with `dcpbench` on PATH and the given environment. */
function runContainer(
  c: Container,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(
      c.command[0],
      [...c.command.slice(1), ...c.args],
      { env, timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

const read = (file: string) => JSON.parse(readFileSync(file, "utf8")) as ResultFile;

describe(
  "shards: the Kubernetes Job's pods run as local processes against the local stack, then merged",
  { timeout: 300_000 },
  () => {
    let stack: TestStack;
    let bin: string;
    let results: string;
    const shards: string[] = [];

    before(async () => {
      stack = await startStack();
      bin = tmp("dcpbench-bin-");
      writeFileSync(join(bin, "dcpbench"), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
      chmodSync(join(bin, "dcpbench"), 0o755);
      results = tmp("dcpbench-fleet-");
    });
    after(async () => {
      await stack?.down();
    });

    it("three shards of --conns 24 --rate 600 with one --start-at: merged counts and histograms are the shards' sums", async () => {
      const job = containerOf("job.yaml");
      const jobEnv = Object.fromEntries((job.env ?? []).map((e) => [e.name, e.value]));
      const shardsN = Number(jobEnv.SHARDS);
      assert.equal(shardsN, 3);
      const startAt = new Date(Date.now() + 6000).toISOString().replace(/\.\d+Z$/, "Z");
      const runs = [];
      for (let i = 0; i < shardsN; i++) {
        const home = tmp("dcpbench-home-");
        mkdirSync(join(results), { recursive: true });
        runs.push(
          runContainer(job, {
            PATH: `${bin}:${process.env.PATH}`,
            ...jobEnv,
            // What the ConfigMap and the Secret give a pod, pointed at the local stack.
            TARGET_URI: stack.status.uris.pooled,
            WORKLOAD: "select1",
            CONNS: "24",
            RATE: "600",
            DURATION: "6s",
            START_AT: startAt,
            LABEL: "fleet",
            RUN_ID: "run-1",
            WORKERS: "1",
            JOB_COMPLETION_INDEX: String(i),
            HOME: home,
            PGPASS_SECRET: stack.status.pgpassfile,
            RESULTS: results,
            METRICS_PORT: String(await freePort()),
            METRICS_HOST: "127.0.0.1",
          }),
        );
      }
      const outs = await Promise.all(runs);
      for (const o of outs) assert.equal(o.code, 0, o.stderr);
      for (let i = 0; i < shardsN; i++) {
        const dir = join(results, "run-1", `shard-${i}`);
        shards.push(
          join(
            dir,
            readdirSync(dir).find((f) => f.endsWith(".json"))!,
          ),
        );
      }
      const parts = shards.map(read);
      parts.forEach((p, i) => {
        assert.deepEqual(p.plan.shard, { index: i, count: 3, conns: 24, rate: 600, firstClientId: 8 * i });
        assert.equal(p.plan.conns, 8);
        assert.equal(p.plan.rate, 200);
        assert.equal(p.plan.startAt, startAt.replace("Z", ".000Z"));
        assert.equal(p.host?.lateMs, 0, outs[i].stderr);
        assert.ok(
          p.host?.clock && p.host.clock.rttMs >= 0,
          "each shard measured its clock against the server's",
        );
      });
      // Intervals on one grid: the same sequence numbers and offsets from the common start.
      const grid = (r: ResultFile) => r.timeline.map((e) => `${e.seq}@${e.t.toFixed(1)}`).join(" ");
      assert.equal(grid(parts[1]), grid(parts[0]));
      assert.equal(grid(parts[2]), grid(parts[0]));

      const merge = containerOf("merge-job.yaml");
      const mergeEnv = Object.fromEntries((merge.env ?? []).map((e) => [e.name, e.value]));
      const m = await runContainer(merge, {
        PATH: `${bin}:${process.env.PATH}`,
        ...mergeEnv,
        RESULTS: results,
        RUN_ID: "run-1",
      });
      assert.equal(m.code, 0, m.stderr);
      const merged = read(join(results, "run-1", "merged.json"));
      assert.match(
        readFileSync(join(results, "run-1", "merged.html"), "utf8"),
        /^<!doctype html>[^]*fleet/i,
        "the merge job's report",
      );
      const sum = parts.reduce((n, p) => n + p.summary[CYCLE].count, 0);
      assert.equal(merged.summary[CYCLE].count, sum);
      assert.equal(merged.plan.conns, 24);
      assert.equal(merged.plan.rate, 600);
      assert.equal(merged.partial, false);
      assert.deepEqual(merged.merge?.missing, []);
      assert.ok(merged.merge!.clockSpreadMs !== null);
      // The histograms add exactly: the merged one's buckets are the sum of the shards' buckets.
      const buckets = (encoded: string[]) => {
        const total = new Map<number, number>();
        for (const e of encoded) {
          const c = countsOf(decode(e));
          for (let k = 0; k < c.length; k += 2) total.set(c[k], (total.get(c[k]) ?? 0) + c[k + 1]);
        }
        return [...total.entries()].sort((a, b) => a[0] - b[0]);
      };
      assert.deepEqual(
        buckets([merged.summary[CYCLE].histogram]),
        buckets(parts.map((p) => p.summary[CYCLE].histogram)),
      );
      const k = merged.timeline.findIndex((e) => !e.ramp && (e.ops[CYCLE]?.count ?? 0) > 0);
      assert.equal(
        merged.timeline[k].ops[CYCLE].count,
        parts.reduce((n, p) => n + p.timeline[k].ops[CYCLE].count, 0),
      );
      assert.deepEqual(
        buckets([merged.timeline[k].ops[CYCLE].histogram!]),
        buckets(parts.flatMap((p) => p.timeline[k].ops[CYCLE].histogram ?? [])),
      );
      const rate = merged.summary[CYCLE].rate;
      assert.ok(Math.abs(rate - 600) / 600 <= 0.02, `merged rate ${rate}/s`);
      // An ordinary result: compare reads it.
      const cmp = await runCli(["compare", shards[0], join(results, "run-1", "merged.json")], stack.env);
      assert.equal(cmp.code, 0, cmp.stderr);
    });

    it("merge refuses shards of another plan (one line, exit 2); a missing shard makes a partial merge that names it", async () => {
      const other = read(shards[2]);
      other.workload = "tpcb";
      const otherFile = join(tmp("dcpbench-other-"), "other.json");
      writeFileSync(otherFile, JSON.stringify(other));
      const bad = await runCli(
        ["merge", shards[0], shards[1], otherFile, "--out", join(tmp("m-"), "x.json")],
        stack.env,
      );
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(
        bad.stderr.trim(),
        /^dcpbench: \S+ and \S+ are not shards of one plan: their workload differ \(tpcb vs select1\)$/,
      );
      const twice = await runCli(["merge", shards[0], shards[0]], stack.env);
      assert.equal(twice.code, 2);
      assert.match(twice.stderr, /shard 0 is given twice/);

      const out = join(tmp("dcpbench-partial-"), "partial.json");
      const partial = await runCli(["merge", shards[0], shards[1], "--out", out], stack.env);
      assert.equal(partial.code, 1, partial.stderr);
      assert.match(partial.stderr, /the merge is partial: shard\(s\) 2 missing/);
      const merged = read(out);
      assert.equal(merged.partial, true);
      assert.deepEqual(merged.merge?.missing, [2]);
      assert.equal(
        merged.summary[CYCLE].count,
        read(shards[0]).summary[CYCLE].count + read(shards[1]).summary[CYCLE].count,
      );
    });

    it("bad --shard and --start-at: one line, exit 2", async () => {
      for (const [args, re] of [
        [["--shard", "3/3"], /--shard: '3\/3' is not I\/N with 0 <= I < N/],
        [["--shard", "x"], /--shard: 'x' is not I\/N/],
        [
          ["--shard", "0/9", "--conns", "4"],
          /--shard 0\/9: --conns 4 leaves some shards no client \(give at least 9\)/,
        ],
        [["--start-at", "tomorrow"], /--start-at: 'tomorrow' is not an RFC 3339 time/],
        [["--start-at", "2026-12-03T10:00:00"], /is not an RFC 3339 time with its offset/],
        [["--start-at", "2099-01-01T00:00:00Z"], /is more than 7 days ahead/],
        [["--shard", "0/2", "--start-at", "+30s"], /each shard would read it on its own clock/],
      ] as const) {
        const res = await runCli(["run", "select1", ...args, "--iterations", "1"], stack.env);
        assert.equal(res.code, 2, `${args.join(" ")}: ${res.stderr}`);
        assert.equal(res.stderr.trim().split("\n").length, 1, res.stderr);
        assert.match(res.stderr, re);
      }
    });
  },
);
