import { Socket, type OnReadOpts, type SocketConstructorOpts } from "node:net";
import pg, { type ClientConfig } from "pg";

/**
 * One read buffer for every such socket of the process. Reads are handled one at a time on the event loop,
 * and each is copied out of it before the next can land.
 */
let shared: Buffer | undefined;
const takers = new WeakMap<Socket, (sink: (chunk: Buffer) => void) => void>();

/**
 * A TCP socket for pg to connect with (its `stream` option) whose reads skip Node's stream machinery: they
 * land in the shared buffer (net.Socket's `onread`), are copied out (small ones into a slice of Node's buffer
 * pool) and handed on, to pg as 'data' events until a LeanClient takes them with `takeReads`. Per read this
 * saves a fresh ArrayBuffer (swept at every scavenge), the Readable's push, its 'data' emit and a nextTick.
 * A small read's copy is a slice of an 8 KB pool slab: a result a workload keeps holds its slab.
 */
export function readSocket(): Socket {
  let sink: ((chunk: Buffer) => void) | undefined;
  const onread: OnReadOpts = {
    buffer: (shared ??= Buffer.allocUnsafe(64 * 1024)),
    callback: (n, buf) => {
      const chunk = Buffer.allocUnsafe(n); // small ones: a slice of Node's pool
      (buf as Buffer).copy(chunk, 0, 0, n);
      if (sink) sink(chunk);
      else socket.emit("data", chunk);
      return true; // keep reading
    },
  };
  // Node's Socket constructor takes `onread` (net.connect passes its options on); the typings list it for connect.
  const socket = new Socket({ onread } as SocketConstructorOpts);
  takers.set(socket, (s) => (sink = s));
  return socket;
}

/** From now on the socket's reads go to `sink` (and no longer to 'data'); false when it is not a readSocket. */
export function takeReads(socket: Socket, sink: (chunk: Buffer) => void): boolean {
  const take = takers.get(socket);
  take?.(sink);
  return take !== undefined;
}

/** sslmode values (PGSSLMODE, when the config says nothing) with which pg makes a TLS connection. */
const TLS_MODES = new Set(["prefer", "require", "verify-ca", "verify-full", "no-verify"]);

/**
 * `config` with a readSocket to connect over, unless the connection will be TLS (as pg decides: the config,
 * else PGSSLMODE, else pg.defaults.ssl): then as it is. (TLS over a readSocket would work, without the gain:
 * the TLS layer takes over the socket's reads.)
 */
export function withReadSocket(config: ClientConfig): ClientConfig {
  const tls = config.ssl ?? (TLS_MODES.has(process.env.PGSSLMODE ?? "") || Boolean(pg.defaults.ssl));
  return tls ? config : { ...config, stream: readSocket };
}
