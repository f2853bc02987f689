import { intervalErrors, type Aggregator } from "../metrics/aggregate.js";
import { CYCLE, type TimelineEntry } from "../schema/measures.js";

const HEADER = "_elapsed___errors__ops/s(inst)___ops/s(cum)__p50(ms)__p95(ms)__p99(ms)_pMax(ms)";

const num = (n: number, width: number, digits = 1) => n.toFixed(digits).padStart(width);
/** Latencies: two decimals below 10 ms, so sub-millisecond loopback numbers stay readable. */
const lat = (n: number, width: number) => num(n, width, n < 10 ? 2 : 1);

/**
 * Log-friendly progress, one line per interval (like `cockroach workload`): cycles per second, errors,
 * and the interval's cycle latency percentiles. The header repeats every 20 lines.
 */
export class ProgressPrinter {
  private lines = 0;
  private cumCount = 0;

  constructor(private readonly write: (line: string) => void) {}

  interval(entry: TimelineEntry, _agg: Aggregator): void {
    const cycle = entry.ops[CYCLE];
    const count = cycle?.count ?? 0;
    this.cumCount += count;
    const errors = intervalErrors(entry.ops);
    if (this.lines % 20 === 0) this.write(HEADER);
    this.lines++;
    const o = entry.observed;
    const server = o
      ? [
          o.db_sessions !== undefined ? ` db_sessions=${o.db_sessions} active=${o.db_active}` : "",
          o.srv_cpu_pct !== undefined ? ` srv_cpu=${Math.round(o.srv_cpu_pct)}%` : "",
          o.srv_commits_s !== undefined ? ` commits/s=${Math.round(o.srv_commits_s)}` : "",
          o.pgb_cl_waiting !== undefined
            ? ` cl_waiting=${o.pgb_cl_waiting} sv_active=${o.pgb_sv_active}`
            : "",
        ].join("")
      : "";
    const phase = entry.phase === "after" ? " (drain)" : entry.ramp ? " (warm-up)" : "";
    const tag = phase + server;
    this.write(
      `${num(entry.t, 8)}s${String(errors).padStart(9)}${num(entry.dt > 0 ? count / entry.dt : 0, 14)}` +
        `${num(entry.t > 0 ? this.cumCount / entry.t : 0, 14)}${lat(cycle?.p50 ?? 0, 9)}${lat(cycle?.p95 ?? 0, 9)}` +
        `${lat(cycle?.p99 ?? 0, 9)}${lat(cycle?.max ?? 0, 9)}${tag}`,
    );
  }
}
