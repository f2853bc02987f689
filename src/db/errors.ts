import type { ErrorClass } from "../schema/measures.js";

export interface ClassifiedError {
  cls: ErrorClass;
  sqlstate?: string;
  message: string;
  /** The client's connection is unusable and must be replaced. */
  broken: boolean;
  /** The connection was lost during COMMIT: the transaction may or may not have committed. */
  ambiguous?: boolean;
}

/** Thrown by the transaction helper when COMMIT's outcome is unknown (the connection died under it). */
export class AmbiguousCommitError extends Error {
  readonly ambiguous = true;
  constructor(cause: unknown) {
    super(`commit outcome unknown: ${(cause as Error)?.message ?? cause}`, { cause });
  }
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
const CONNECTION_MESSAGES =
  /Connection terminated|connection error|not queryable|Client was closed|server closed the connection|write after end|socket hang up/i;

/** Whether an error is worth retrying the whole transaction for (40001, CockroachDB restarts, deadlocks). */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === "40001" || code === "40P01";
}

export function classifyError(err: unknown): ClassifiedError {
  if (err instanceof AmbiguousCommitError) {
    return { ...classifyError(err.cause), ambiguous: true, broken: true, message: err.message };
  }
  const e = err as { code?: string; message?: string };
  const message = String(e?.message ?? err).split("\n")[0];
  const code = typeof e?.code === "string" ? e.code : undefined;
  const sqlstate = code && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
  if (sqlstate) {
    // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now.
    if (sqlstate.startsWith("08") || /^57P0[123]$/.test(sqlstate)) {
      return { cls: "connection", sqlstate, message, broken: true };
    }
    if (sqlstate === "40001" || sqlstate === "40P01")
      return { cls: "serialization", sqlstate, message, broken: false };
    // 57014 query_canceled (statement_timeout), 25P03 idle-in-transaction timeout.
    if (sqlstate === "57014") return { cls: "timeout", sqlstate, message, broken: false };
    if (sqlstate === "25P03") return { cls: "timeout", sqlstate, message, broken: true };
    return { cls: "other", sqlstate, message, broken: false };
  }
  if (/timeout/i.test(message)) return { cls: "timeout", message, broken: true };
  if ((code && CONNECTION_CODES.has(code)) || CONNECTION_MESSAGES.test(message)) {
    return { cls: "connection", message, broken: true };
  }
  return { cls: "other", message, broken: false };
}
