import type { OpWaits } from "../schema/server-side.js";
import type { SqlClient } from "./sampler-connection.js";

/** How often the sessions are sampled (a sample late behind a slow one is skipped, and counted as such). */
export const OP_WAIT_SAMPLE_MS = 100;

/**
 * Every session of the run that is inside a statement or a transaction, by the op its last statement named
 * (the `/*op:NAME*\/` tag, --wait-events) and what it was doing: on the CPU (active, no wait event), waiting
 * (`Lock:transactionid`, `LWLock:WALWrite`, `IO:DataFileRead`, …), or idle in its transaction (the client's
 * own time inside it: its sleeps, the network). Idle sessions are between ops and not counted.
 */
const SAMPLE = `
SELECT substring(query from '^/\\*op:([A-Za-z0-9_.-]+)\\*/') AS op,
       CASE WHEN state LIKE 'idle in transaction%' THEN state
            WHEN wait_event IS NULL THEN 'CPU'
            ELSE wait_event_type || ':' || wait_event END AS what,
       count(*)::int AS n
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state <> 'idle'
  AND query LIKE '/*op:%'
GROUP BY 1, 2`;

/**
 * Samples pg_stat_activity every OP_WAIT_SAMPLE_MS over the measured window, on a connection of its own (so
 * that the interval's readings never wait behind it), and counts what each op's sessions were doing.
 */
export class OpWaitSampler {
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;
  private samples = 0;
  private missed = 0;
  private failure: string | undefined;
  private startedAt = 0;
  private lastAt = 0;
  private readonly counts = new Map<string, Map<string, number>>();

  constructor(private readonly client: SqlClient) {}

  start(): void {
    this.startedAt = this.lastAt = performance.now();
    this.timer ??= setInterval(() => void this.sample(), OP_WAIT_SAMPLE_MS);
  }

  private sample(): void {
    // A sample still running when the next is due: the next is skipped (and said), never queued.
    if (this.busy) {
      this.missed++;
      return;
    }
    this.busy = this.client
      .query<{ op: string; what: string; n: number }>(SAMPLE)
      .then(({ rows }) => {
        this.samples++;
        this.lastAt = performance.now();
        for (const r of rows) {
          const op = this.counts.get(r.op) ?? new Map<string, number>();
          op.set(r.what, (op.get(r.what) ?? 0) + r.n);
          this.counts.set(r.op, op);
        }
      })
      .catch((err: Error) => void (this.failure ??= err.message))
      .finally(() => (this.busy = undefined));
  }

  async end(): Promise<void> {
    clearInterval(this.timer);
    await this.busy;
  }

  summary(): OpWaits {
    const ops = Object.fromEntries(
      [...this.counts]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([op, m]) => [op, Object.fromEntries([...m].sort((a, b) => b[1] - a[1]))]),
    );
    const note =
      this.failure !== undefined
        ? `a sample failed: ${this.failure}`
        : this.samples > 0 && this.counts.size === 0
          ? "no session showed a tagged statement (is the run's query text visible to the sampler's role?)"
          : undefined;
    return {
      sampleMs: OP_WAIT_SAMPLE_MS,
      samples: this.samples,
      seconds: +((this.lastAt - this.startedAt) / 1000).toFixed(3),
      skipped: this.missed,
      ops,
      ...(note ? { note } : {}),
    };
  }
}
