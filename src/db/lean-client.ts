import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import pg from "pg";
import { DatabaseError, parse, serialize } from "pg-protocol";
import { paramText } from "./query-mode.js";
import { takeReads } from "./read-socket.js";

/** The query shapes `queryConfig` produces: text (simple protocol), or text with values, a name or both. */
export type LeanQuery = string | { text: string; values?: unknown[]; name?: string; queryMode?: string };

export interface LeanResult {
  rows: Record<string, unknown>[];
  rowCount: number;
}

/** ErrorResponse field codes → the properties pg's DatabaseError carries. */
const ERROR_FIELDS: Record<string, string> = {
  S: "severity",
  C: "code",
  D: "detail",
  H: "hint",
  P: "position",
  p: "internalPosition",
  q: "internalQuery",
  W: "where",
  s: "schema",
  t: "table",
  c: "column",
  d: "dataType",
  n: "constraint",
  F: "file",
  L: "line",
  R: "routine",
};

/**
 * A statement's rows as they came: for each DataRow, the read chunk holding it and the offset of its body.
 * References into the chunks, not views: a view per message costs an object on every query.
 */
type RawRows = Array<Buffer | number>;

/** A statement's result, its rows turned into objects only when asked for (most workloads never look). */
class LazyResult implements LeanResult {
  private parsed: Record<string, unknown>[] | undefined;

  constructor(
    /** The RowDescription: its chunk and the offset of its body (none: the statement returns no rows). */
    private readonly descChunk: Buffer | undefined,
    private readonly descAt: number,
    private readonly raw: RawRows,
    readonly rowCount: number,
  ) {}

  get rows(): Record<string, unknown>[] {
    return (this.parsed ??= this.descChunk ? parseRows(this.descChunk, this.descAt, this.raw) : []);
  }

  /** Logged or saved, a result is its rows and row count (not the bytes it keeps them in). */
  toJSON(): LeanResult {
    return { rows: this.rows, rowCount: this.rowCount };
  }
}

const NO_ROWS: RawRows = [];

/** The row count at the end of a CommandComplete tag ("SELECT 1", "INSERT 0 1"), read off the bytes (0 if none). */
function tagCount(buf: Buffer, from: number, end: number): number {
  // The tag ends in a NUL at end - 1; digits run back from there.
  let i = end - 1;
  let n = 0;
  let scale = 1;
  while (i > from && buf[i - 1] >= 0x30 && buf[i - 1] <= 0x39) {
    n += (buf[i - 1] - 0x30) * scale;
    scale *= 10;
    i--;
  }
  return scale > 1 && buf[i - 1] === 0x20 ? n : 0;
}

/** RowDescription → column names and text parsers; then each DataRow → an object, as pg would make it. */
function parseRows(desc: Buffer, at: number, raw: RawRows): Record<string, unknown>[] {
  const n = desc.readInt16BE(at);
  const names: string[] = [];
  const parsers: Array<(v: string) => unknown> = [];
  let o = at + 2;
  for (let i = 0; i < n; i++) {
    const end = desc.indexOf(0, o);
    names.push(desc.toString("utf8", o, end));
    o = end + 1 + 6; // table oid, column number
    const oid = desc.readUInt32BE(o);
    o += 4 + 2 + 4 + 2; // type oid, size, modifier, format
    parsers.push(pg.types.getTypeParser(oid, "text") as (v: string) => unknown);
  }
  const out: Record<string, unknown>[] = [];
  for (let k = 0; k < raw.length; k += 2) {
    const chunk = raw[k] as Buffer;
    let p = (raw[k + 1] as number) + 2; // the column count
    const row: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const len = chunk.readInt32BE(p);
      p += 4;
      if (len < 0) row[names[i]] = null;
      else {
        row[names[i]] = parsers[i](chunk.toString("utf8", p, p + len));
        p += len;
      }
    }
    out.push(row);
  }
  return out;
}

function databaseError(body: Buffer, length: number): DatabaseError {
  const fields: Record<string, string> = {};
  let o = 0;
  while (o < body.length && body[o] !== 0) {
    const end = body.indexOf(0, o + 1);
    if (end < 0) break; // malformed: no terminator
    fields[String.fromCharCode(body[o])] = body.toString("utf8", o + 1, end);
    o = end + 1;
  }
  const err = new DatabaseError(fields.M ?? "unknown server error", length, "error");
  const props = err as unknown as Record<string, string>;
  for (const [k, prop] of Object.entries(ERROR_FIELDS)) if (fields[k] !== undefined) props[prop] = fields[k];
  return err;
}

/** A simple-protocol Query message: 'Q', length, the text, NUL (what pg-protocol's serializer makes, in one step). */
function simpleQuery(text: string): Buffer {
  const n = Buffer.byteLength(text);
  const buf = Buffer.allocUnsafe(n + 6);
  buf[0] = 0x51;
  buf.writeUInt32BE(n + 5, 1);
  // As many bytes as characters: all ASCII, and the cheaper one-byte copy writes the same bytes.
  if (n === text.length) buf.write(text, 5, "latin1");
  else buf.write(text, 5);
  buf[n + 5] = 0;
  return buf;
}

/** No statement result (yet): a marker, never handed out (a workload may keep and change what it gets). */
const NONE = new LazyResult(undefined, 0, NO_ROWS, 0);

/**
 * The benchmark's query path: on a connection pg has opened (startup, authentication, TLS), runs one query at
 * a time straight on the socket — one write per query, whole messages framed from the reads, rows left as
 * bytes until a workload reads them. pg's per-query machinery (query objects, events per message, eager row
 * parsing) is what a load generator's hot loop cannot afford; its serializer and type parsers are reused.
 * A query resolves to its last statement's result (as psql shows a multi-statement string).
 */
export class LeanClient {
  private readonly socket: Socket;
  /** Bytes of an incomplete message: the chunks so far, their length, and the length the message needs. */
  private partial: Buffer[] = [];
  private partialLength = 0;
  private needed = 0;
  private closedError: Error | undefined;
  private readonly prepared = new Set<string>();
  /** The query in flight (one at a time), kept in fields rather than an object per query. */
  private resolve: ((r: LeanResult) => void) | undefined;
  private reject: ((e: Error) => void) | undefined;
  private result: LazyResult = NONE;
  private descChunk: Buffer | undefined;
  private descAt = 0;
  private rows: RawRows = NO_ROWS;
  private error: Error | undefined;
  /** A named statement whose Parse went out with this query: known to the server once ParseComplete comes. */
  private parsing: string | undefined;
  /** While the connection is lent back to pg (`lend`): where its reads go instead. */
  private lentTo: ((chunk: Buffer) => void) | undefined;

  constructor(private readonly client: pg.Client) {
    const connection = (client as unknown as { connection: { stream: Socket } }).connection;
    this.socket = connection.stream;
    // pg's protocol parser stops here; pg keeps its own close/error handling (and end()).
    this.socket.removeAllListeners("data");
    const onData = (chunk: Buffer) => this.onData(chunk);
    if (!takeReads(this.socket, onData)) this.socket.on("data", onData);
    this.socket.on("close", () => this.fail(new Error("Connection terminated unexpectedly")));
    this.socket.on("error", (err) => this.fail(err));
  }

  private fail(err: Error): void {
    this.closedError ??= err;
    const reject = this.reject;
    // A server that says why before it hangs up (57P01 admin shutdown, …): that is the error to report.
    const reason = this.error ?? err;
    this.settle();
    reject?.(reason);
  }

  /** Ends the query in flight: no query is pending afterwards. */
  private settle(): void {
    this.resolve = undefined;
    this.reject = undefined;
    this.result = NONE;
    this.descChunk = undefined;
    this.rows = NO_ROWS;
    this.error = undefined;
    this.parsing = undefined;
  }

  query(q: LeanQuery): Promise<LeanResult> {
    if (!this.closedError && (this.socket.destroyed || !this.socket.writable)) {
      this.closedError = new Error("Connection terminated unexpectedly");
    }
    if (this.closedError) return Promise.reject(new Error("Client was closed: " + this.closedError.message));
    if (this.resolve || this.lentTo) return Promise.reject(new Error("LeanClient: one query at a time"));
    let message: Buffer;
    let parsing: string | undefined;
    if (typeof q === "string") message = simpleQuery(q);
    else if (q.values === undefined && q.name === undefined && q.queryMode !== "extended")
      message = simpleQuery(q.text);
    else {
      const parts: Buffer[] = [];
      const statement = q.name ?? "";
      if (!q.name || !this.prepared.has(q.name)) {
        parts.push(serialize.parse({ name: statement, text: q.text }));
        parsing = q.name;
      }
      parts.push(
        serialize.bind({ statement, values: q.values ?? [], valueMapper: paramText }),
        serialize.describe({ type: "P" }),
        serialize.execute({}),
        serialize.sync(),
      );
      message = Buffer.concat(parts);
    }
    // Only once the message is built (building it can throw): this query's Parse, if it has one.
    this.parsing = parsing;
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.socket.write(message);
    });
  }

  /**
   * Hands the connection back to pg's own parser while `fn` runs (pg-cursor needs pg's Client and its protocol
   * events), then takes it again. Only between queries: pg's Client has been idle since it connected.
   */
  async lend<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    if (this.closedError) throw new Error("Client was closed: " + this.closedError.message);
    if (this.resolve || this.lentTo) throw new Error("LeanClient: one query at a time");
    const connection = (this.client as unknown as { connection: EventEmitter }).connection;
    const relay = new EventEmitter();
    // What pg's Connection does with its socket's reads (attachListeners): parse, and emit each message.
    void parse(relay as unknown as NodeJS.ReadableStream, (msg) => {
      connection.emit(msg.name === "error" ? "errorMessage" : msg.name, msg);
    });
    this.lentTo = (chunk) => relay.emit("data", chunk);
    try {
      return await fn(this.client);
    } finally {
      // fn may settle before pg's last ReadyForQuery (pg-cursor rejects at the error, Sync still answering).
      await this.pgIdle(connection);
      this.lentTo = undefined;
      relay.emit("end");
    }
  }

  /** Resolves once pg's Client has its ReadyForQuery (or the connection is gone). */
  private pgIdle(connection: EventEmitter): Promise<void> {
    const pgClient = this.client as unknown as { readyForQuery: boolean };
    if (pgClient.readyForQuery || this.closedError || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        connection.off("readyForQuery", done);
        this.socket.off("close", done);
        resolve();
      };
      connection.on("readyForQuery", done);
      this.socket.on("close", done);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.lentTo) return this.lentTo(chunk);
    // A message split over reads is gathered first and joined once (not re-joined on every read).
    if (this.partial.length) {
      this.partial.push(chunk);
      this.partialLength += chunk.length;
      if (this.partialLength < this.needed) return;
      chunk = Buffer.concat(this.partial, this.partialLength);
      this.partial = [];
      this.partialLength = 0;
    }
    let o = 0;
    while (chunk.length - o >= 5) {
      const end = o + 1 + chunk.readUInt32BE(o + 1);
      if (chunk.length < end) break;
      this.onMessage(chunk, chunk[o], o + 5, end);
      o = end;
    }
    if (o < chunk.length) {
      const rest = chunk.subarray(o);
      this.partial = [rest];
      this.partialLength = rest.length;
      this.needed = rest.length >= 5 ? 1 + rest.readUInt32BE(1) : 5;
    }
  }

  /** One backend message: its type, and its body as buf[from, end) (sliced only when it is kept). */
  private onMessage(buf: Buffer, type: number, from: number, end: number): void {
    const pending = this.resolve !== undefined;
    switch (type) {
      case 0x54: // T RowDescription
        if (pending) {
          this.descChunk = buf;
          this.descAt = from;
        }
        break;
      case 0x44: // D DataRow
        if (pending) (this.rows === NO_ROWS ? (this.rows = []) : this.rows).push(buf, from);
        break;
      case 0x43: // C CommandComplete: a statement's result (the last one is the query's)
        if (!pending) break;
        this.result = new LazyResult(this.descChunk, this.descAt, this.rows, tagCount(buf, from, end));
        this.descChunk = undefined;
        this.rows = NO_ROWS;
        break;
      case 0x49: // I EmptyQueryResponse
        if (pending) this.result = NONE;
        break;
      case 0x45: // E ErrorResponse
        if (pending) this.error ??= databaseError(buf.subarray(from, end), end - from + 4);
        // Outside a query (a FATAL before the server hangs up: 57P01 admin shutdown, …): pg reports such an
        // error on the client, so the reason is not lost to a bare "connection terminated".
        else if (this.client.listenerCount("error") > 0) {
          this.client.emit("error", databaseError(buf.subarray(from, end), end - from + 4));
        }
        break;
      case 0x31: // 1 ParseComplete
        if (this.parsing) this.prepared.add(this.parsing);
        break;
      case 0x5a: {
        // Z ReadyForQuery: the query is over.
        const { resolve, reject, result, error } = this;
        this.settle();
        if (error) reject?.(error);
        else resolve?.(result === NONE ? new LazyResult(undefined, 0, NO_ROWS, 0) : result);
        break;
      }
      case 0x47: // G CopyInResponse
      case 0x48: // H CopyOutResponse
      case 0x57: // W CopyBothResponse
        this.socket.destroy(new Error("COPY is not supported on a benchmark connection"));
        break;
      default:
      // ParameterStatus, NoticeResponse, NotificationResponse, BindComplete, NoData, … : nothing to do.
    }
  }
}
