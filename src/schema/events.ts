/**
 * What happened around the load: faults, their effect, server-side samples, thresholds. Part of the
 * result-file contract (imports nothing of ours but the contract's own files).
 */
import type { SystemStall } from "./measures.js";

export type StackMember = "postgres" | "pgbouncer-1" | "pgbouncer-2" | "haproxy" | "node-a" | "node-b";

/** What happened to a scheduled fault (times in seconds after the run's start). */
export interface FaultRecord {
  spec: string;
  action: "kill" | "poweroff" | "start" | "isolate" | "rejoin" | "move";
  member: StackMember;
  signal?: string;
  at: number;
  /** When it was carried out, and when that finished (a start waits until the member answers). */
  startedAt: number | null;
  doneAt: number | null;
  ok: boolean;
  error?: string;
  /**
   * `--vip` stacks: the VIP manager's state changes from this fault to the next (seconds after the run's start,
   * from keepalived's notify script or Pacemaker's alert agent): when the VIP moved, and to which node. Absent
   * on other stacks.
   */
  vip?: VipEvent[];
}

/**
 * A state change of a `--vip` node. keepalived: MASTER, BACKUP, FAULT, STOP. Pacemaker: member, lost (of the
 * cluster), fenced, fencing-failed, vip-start, vip-stop, haproxy-start, haproxy-stop, their -failed forms,
 * vip-monitor, haproxy-monitor (a monitor's result changed).
 */
export interface VipEvent {
  at: number;
  node: string;
  state: string;
}

/** What one fault did to the clients (seconds; null where a client never recovered before the end). */
export interface FaultAvailability {
  fault: string;
  at: number;
  /** From the fault to the first error it caused. */
  firstErrorAfterSec: number | null;
  clientsAffected: number;
  errors: number;
  /** Transactions whose COMMIT lost its connection in this window: outcome unknown, counted apart. */
  ambiguousCommits: number;
  /** Overall: the earliest last-success before → the latest first-success after, over affected clients. */
  outage: { from: number; to: number | null; seconds: number | null } | null;
  /** The longest single client's outage. */
  worstClientSec: number | null;
  /**
   * The median over affected clients of each one's longest outage (nearest rank; null when that client never
   * recovered). Absent in files written before it was recorded.
   */
  medianClientSec?: number | null;
  /** From the fault until every affected client had succeeded again. */
  recoveredAfterSec: number | null;
  /**
   * The longest time in which no cycle succeeded anywhere while cycles were waiting, among the stalls that set
   * in after this fault: errors or not (clients queued in a pooler just wait). Absent in
   * files written before stalls were recorded.
   */
  stall?: SystemStall | null;
}

export interface SeriesStats {
  min: number;
  mean: number;
  max: number;
}

/** What the samplers saw over the run. */
export interface ObservedSummary {
  samples: number;
  series: Record<string, SeriesStats>;
  /** PgBouncer: time clients waited for a server vs time in transactions, over the run (SHOW STATS). */
  poolWait?: { waitSec: number; xactSec: number; share: number };
}

export interface ThresholdOutcome {
  expr: string;
  ok: boolean;
  /** The measured value (ms for latencies), or null when the op did not run. */
  actual: number | null;
  unit: "ms" | "";
}
