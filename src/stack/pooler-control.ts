import pg from "pg";
import { clientConfig, findPassword } from "../db/connect.js";
import { UsageError } from "../errors.js";
import { pgbouncerIni, processPoolSize } from "./configs.js";
import { bouncerProcesses, readStackConfig, stackPaths, stackUris, type StackConfig } from "./layout.js";
import { writeOwned } from "./files.js";
import { serviceUser } from "./system.js";

/** Server connections PostgreSQL keeps free of the poolers' pools (superuser reserve, samplers, init). */
const HEADROOM = 20;

/** The local stack's config, or a one-line refusal: a pool-size sweep changes the stack's own PgBouncers. */
export function stackForPoolSizes(dir: string, sizes: number[]): StackConfig {
  const cfg = readStackConfig(stackPaths(dir));
  if (!cfg)
    throw new UsageError(`--pool-size changes the local stack's PgBouncer, and there is none in ${dir}`);
  const bouncers = cfg.ha ? 2 : 1;
  const largest = Math.max(...sizes);
  if (largest * bouncers > cfg.maxConnections - HEADROOM) {
    throw new UsageError(
      `--pool-size ${largest} × ${bouncers} PgBouncer(s) would need more server connections than the stack's ` +
        `PostgreSQL allows (max_connections ${cfg.maxConnections}, ${HEADROOM} kept free)`,
    );
  }
  return cfg;
}

/**
 * Sets default_pool_size of every PgBouncer of the local stack: rewrites their ini files, then RELOADs each (no
 * restart: clients stay connected) and reads the value back from SHOW CONFIG.
 */
export async function setStackPoolSize(dir: string, size: number): Promise<void> {
  const paths = stackPaths(dir);
  const cfg = { ...stackForPoolSizes(dir, [size]), poolSize: size };
  const user = serviceUser();
  // stack.json keeps the stack's own size: after a sweep killed before it put the size back, the next sweep
  // (or `stack down` and `up`) does.
  for (const p of bouncerProcesses(cfg))
    writeOwned(paths.bouncer(p.n, p.k).ini, pgbouncerIni(cfg, paths, p.n, p.k), 0o600, user);
  const each = processPoolSize(cfg);
  for (const admin of stackUris(cfg, paths).pgbouncerAdmin) {
    await withAdmin(admin, async (client) => {
      await client.query("RELOAD");
      const { rows } = await client.query<{ key: string; value: string }>("SHOW CONFIG");
      const now = rows.find((r) => r.key === "default_pool_size")?.value;
      if (Number(now) !== each)
        throw new Error(`PgBouncer at ${admin} kept default_pool_size ${now} after RELOAD`);
    });
  }
}

/**
 * Closes the server connections the local stack's PgBouncers hold idle (RECONNECT) and waits until they are
 * gone: a sweep's point then starts without the previous point's idle server sessions on PostgreSQL. Returns
 * how many were still open after `timeoutMs` (0: all closed).
 */
export async function closeStackServerConnections(dir: string, timeoutMs = 10_000): Promise<number> {
  const paths = stackPaths(dir);
  const cfg = readStackConfig(paths);
  let left = 0;
  if (!cfg) return left;
  for (const admin of stackUris(cfg, paths).pgbouncerAdmin) {
    await withAdmin(admin, async (client) => {
      await client.query("RECONNECT");
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { rows } = await client.query<Record<string, string>>("SHOW POOLS");
        const open = rows
          .filter((r) => r.database !== "pgbouncer")
          .reduce(
            (n, r) =>
              n +
              ["sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login"].reduce(
                (m, k) => m + Number(r[k] ?? 0),
                0,
              ),
            0,
          );
        if (open === 0) return;
        if (Date.now() > deadline) {
          left += open;
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
  }
  return left;
}

async function withAdmin(uri: string, fn: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client(
    clientConfig({ uri, appName: "dcpbench-sweep", connectTimeoutMs: 10_000 }, await findPassword(uri)),
  );
  client.on("error", () => {});
  try {
    await client.connect();
    await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}
