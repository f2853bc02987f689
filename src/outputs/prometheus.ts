import { createServer, type Server } from "node:http";
import type { Aggregator } from "../metrics/aggregate.js";
import { cumulativeAtOrBelow } from "../metrics/histogram.js";
import type { Output } from "./output.js";

/**
 * The histogram's upper bounds in seconds: 1, 1.5, 2, 3, 4, 5 and 7 per decade from 100 µs to 100 s, so that a
 * quantile read from the buckets is within one bucket (at most 50% wide) of the HDR figure.
 */
export const BUCKET_BOUNDS_S: readonly number[] = [-4, -3, -2, -1, 0, 1]
  .flatMap((e) => [1, 1.5, 2, 3, 4, 5, 7].map((m) => +(m * 10 ** e).toPrecision(2)))
  .concat(100);
const BUCKET_BOUNDS_US = BUCKET_BOUNDS_S.map((s) => Math.round(s * 1e6));

/** A label value in the text exposition format: backslash, quote and newline escaped. */
const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/**
 * The run's live metrics in Prometheus' text exposition format (version 0.0.4): counters of ops, errors,
 * retries and skips per op and a latency histogram per op (from every merged interval: these add up across
 * shards), a latency summary per op of the measured window, and the server-side samples as gauges — like dbworkload's and `cockroach workload`'s endpoints.
 */
export function exposition(
  run: string,
  agg: Aggregator,
  observed: Record<string, number> | undefined,
): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string) =>
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  const totals = new Map<
    string,
    { ops: number; errors: Record<string, number>; retries: number; skipped: number }
  >();
  for (const entry of agg.timeline) {
    for (const [op, o] of Object.entries(entry.ops)) {
      const t = totals.get(op) ?? { ops: 0, errors: {}, retries: 0, skipped: 0 };
      t.ops += o.count;
      t.retries += o.retries;
      t.skipped += o.skipped;
      t.errors.all = (t.errors.all ?? 0) + o.errors;
      totals.set(op, t);
    }
  }
  const l = (op: string) => `run="${esc(run)}",op="${esc(op)}"`;
  family("dcpbench_ops_total", "counter", "Successful executions per op.");
  for (const [op, t] of totals) out.push(`dcpbench_ops_total{${l(op)}} ${t.ops}`);
  family("dcpbench_errors_total", "counter", "Failed executions per op.");
  for (const [op, t] of totals) out.push(`dcpbench_errors_total{${l(op)}} ${t.errors.all ?? 0}`);
  family("dcpbench_retries_total", "counter", "Transaction retries (serialization failures) per op.");
  for (const [op, t] of totals) out.push(`dcpbench_retries_total{${l(op)}} ${t.retries}`);
  family("dcpbench_skipped_total", "counter", "Ops skipped by their frequency roll.");
  for (const [op, t] of totals) out.push(`dcpbench_skipped_total{${l(op)}} ${t.skipped}`);
  family(
    "dcpbench_latency_seconds",
    "histogram",
    "Latency per op of every completed execution so far (the HDR counts in fixed buckets): add across shards.",
  );
  for (const [op, h] of agg.liveHistograms()) {
    const below = cumulativeAtOrBelow(h, BUCKET_BOUNDS_US);
    BUCKET_BOUNDS_S.forEach((le, i) =>
      out.push(`dcpbench_latency_seconds_bucket{${l(op)},le="${le}"} ${below[i]}`),
    );
    out.push(`dcpbench_latency_seconds_bucket{${l(op)},le="+Inf"} ${h.totalCount}`);
    out.push(`dcpbench_latency_seconds_sum{${l(op)}} ${+((h.mean * h.totalCount) / 1e6).toPrecision(9)}`);
    out.push(`dcpbench_latency_seconds_count{${l(op)}} ${h.totalCount}`);
  }
  family(
    "dcpbench_window_latency_seconds",
    "summary",
    "Latency per op of the cycles that started in the measured window, as the result will hold it (one run's).",
  );
  for (const [op, s] of Object.entries(agg.liveStats())) {
    for (const [q, v] of [
      ["0.5", s.p50],
      ["0.9", s.p90],
      ["0.95", s.p95],
      ["0.99", s.p99],
      ["0.999", s.p999],
      ["1", s.max],
    ] as const) {
      out.push(`dcpbench_window_latency_seconds{${l(op)},quantile="${q}"} ${+(v / 1000).toPrecision(6)}`);
    }
    out.push(`dcpbench_window_latency_seconds_sum{${l(op)}} ${+((s.mean * s.count) / 1000).toPrecision(9)}`);
    out.push(`dcpbench_window_latency_seconds_count{${l(op)}} ${s.count}`);
  }
  for (const [key, value] of Object.entries(observed ?? {})) {
    const name = `dcpbench_observed_${key.replace(/[^a-zA-Z0-9_]/g, "_")}`;
    family(name, "gauge", `Server-side sample '${key}' (database sessions, PgBouncer pools).`);
    out.push(`${name}{run="${esc(run)}"} ${value}`);
  }
  return out.join("\n") + "\n";
}

/** Serves exposition() on host:port at /metrics (loopback unless told: a pod's scraper needs 0.0.0.0). */
export function servePrometheus(port: number, render: () => string, host = "127.0.0.1"): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      if (req.url !== "/metrics") {
        res.writeHead(404).end("see /metrics\n");
        return;
      }
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(render());
    });
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

/**
 * The live endpoint as an output: it serves the run's aggregate as of its latest interval (nothing before the
 * first) and the samplers' latest figures, from the moment its port is bound.
 */
export class PrometheusOutput implements Output {
  private agg: Aggregator | undefined;
  private server: Server | undefined;

  private constructor(
    private readonly run: string,
    private readonly observed: () => Record<string, number> | undefined,
  ) {}

  /** Binds the port now (a busy one is the caller's to report) and serves from then on. */
  static async bind(
    port: number,
    host: string | undefined,
    run: string,
    observed: () => Record<string, number> | undefined,
  ): Promise<PrometheusOutput> {
    const out = new PrometheusOutput(run, observed);
    out.server = await servePrometheus(port, () => out.render(), host);
    return out;
  }

  private render(): string {
    return this.agg ? exposition(this.run, this.agg, this.observed()) : "";
  }

  interval(_entry: unknown, agg: Aggregator): void {
    this.agg = agg;
  }

  close(): void {
    this.server?.close();
  }
}
