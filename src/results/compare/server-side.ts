import type { ResultFile } from "../../schema/result.js";
import { changePct } from "./change.js";

/** One "server side" figure per run, with its change against the first run: what the database paid. */
export interface ServerSideRow {
  /** As shown: "server CPU per transaction". */
  name: string;
  /** As `--fail-if server.KEY>+20%` names it: "cpuPerTxnMs". */
  key: string;
  unit: "" | "%" | "ms" | "MB" | "B" | "/s";
  values: Array<number | undefined>;
  changes: Array<number | undefined>;
  /** undefined: neither direction is better in itself (CPU % rises with the work done). */
  lowerIsBetter: boolean | undefined;
}

const ss = (r: ResultFile) => r.serverSide?.summary;
const orUndef = (v: number | null | undefined) => (v === null ? undefined : v);
/** CPU % of the stack's poolers whose name starts with `prefix`, summed (PgBouncers; HAProxy). */
const poolerCpu = (r: ResultFile, prefix: string) => {
  const list = r.serverSide?.poolers.filter((p) => p.member.startsWith(prefix) && p.cpuPct !== null) ?? [];
  return list.length ? list.reduce((n, p) => n + p.cpuPct!, 0) : undefined;
};

/** The poolers' CPU is part of what pooling costs: server and poolers per cycle (poolers only when measured). */
function withPoolers(r: ResultFile): number | undefined {
  const s = ss(r);
  if (!s || s.cpuPerTxnMs === null || !s.cpuSec) return undefined;
  if (r.serverSide!.poolers.some((p) => p.cpuSec === null)) return undefined;
  const poolers = r.serverSide!.poolers.reduce((n, p) => n + p.cpuSec!, 0);
  return +(s.cpuPerTxnMs * (1 + poolers / s.cpuSec)).toFixed(4);
}

export const SERVER_SIDE_FIGURES: Array<{
  name: string;
  key: string;
  unit: ServerSideRow["unit"];
  lowerIsBetter: boolean | undefined;
  get(r: ResultFile): number | undefined;
}> = [
  {
    name: "server CPU per transaction",
    key: "cpuPerTxnMs",
    unit: "ms",
    lowerIsBetter: true,
    get: (r) => orUndef(ss(r)?.cpuPerTxnMs),
  },
  {
    name: "server + pooler CPU per transaction",
    key: "totalCpuPerTxnMs",
    unit: "ms",
    lowerIsBetter: true,
    get: (r) => withPoolers(r),
  },
  {
    name: "server CPU %",
    key: "cpuPct",
    unit: "%",
    lowerIsBetter: undefined,
    get: (r) => orUndef(ss(r)?.cpuPct),
  },
  {
    name: "server memory",
    key: "memoryMb",
    unit: "MB",
    lowerIsBetter: true,
    get: (r) => orUndef(ss(r)?.memoryMb),
  },
  {
    name: "statement time (mean)",
    key: "statementMeanMs",
    unit: "ms",
    lowerIsBetter: true,
    get: (r) => orUndef(ss(r)?.statementMeanMs),
  },
  {
    name: "commits/s",
    key: "commitsPerSec",
    unit: "/s",
    lowerIsBetter: false,
    get: (r) => orUndef(ss(r)?.commitsPerSec),
  },
  {
    name: "connections opened/s",
    key: "sessionsOpenedPerSec",
    unit: "/s",
    lowerIsBetter: true,
    get: (r) => orUndef(ss(r)?.sessionsOpenedPerSec),
  },
  {
    name: "lock waits",
    key: "lockWaits",
    unit: "",
    lowerIsBetter: true,
    get: (r) => r.observed?.series.db_lock_waiting?.mean,
  },
  {
    name: "LWLock waits",
    key: "lwlockWaits",
    unit: "",
    lowerIsBetter: true,
    get: (r) => r.observed?.series.db_lwlock_waiting?.mean,
  },
  {
    name: "transactions open",
    key: "xactOpen",
    unit: "",
    lowerIsBetter: true,
    get: (r) => r.observed?.series.db_xact_open?.mean,
  },
  {
    name: "WAL bytes per transaction",
    key: "walBytesPerTxn",
    unit: "B",
    lowerIsBetter: true,
    get: (r) => orUndef(ss(r)?.walBytesPerTxn),
  },
  {
    name: "WAL sync (mean)",
    key: "walSyncMeanMs",
    unit: "ms",
    lowerIsBetter: true,
    get: (r) => orUndef(ss(r)?.walSyncMeanMs),
  },
  {
    name: "PgBouncer CPU %",
    key: "pgbouncerCpuPct",
    unit: "%",
    lowerIsBetter: true,
    get: (r) => poolerCpu(r, "pgbouncer"),
  },
  {
    name: "HAProxy CPU %",
    key: "haproxyCpuPct",
    unit: "%",
    lowerIsBetter: true,
    get: (r) => poolerCpu(r, "haproxy"),
  },
];

export const SERVER_SIDE_KEYS = SERVER_SIDE_FIGURES.map((f) => f.key);

/** The figures any of the runs has; "lock waits" and the like are means of the per-interval samples. */
export function serverSideRows(results: ResultFile[]): ServerSideRow[] {
  return SERVER_SIDE_FIGURES.map((f) => {
    const values = results.map(f.get);
    return {
      name: f.name,
      key: f.key,
      unit: f.unit,
      values,
      changes: values.map((v, i) => (i === 0 ? undefined : changePct(values[0], v))),
      lowerIsBetter: f.lowerIsBetter,
    };
  }).filter((row) => row.values.some((v) => v !== undefined));
}
