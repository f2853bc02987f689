import { existsSync } from "node:fs";
import { UsageError } from "../errors.js";
import { defaultStackDir } from "../stack/default-dir.js";
import { readStackConfig, stackPaths, stackRole, stackUris } from "../stack/layout.js";

/** A URI from libpq's environment; a PGHOST that is a socket directory goes into ?host=. */
function libpqUri(env: NodeJS.ProcessEnv): string {
  const user = encodeURIComponent(env.PGUSER ?? "");
  const db = encodeURIComponent(env.PGDATABASE ?? "");
  const port = env.PGPORT ?? "5432";
  const host = env.PGHOST!;
  return host.startsWith("/")
    ? `postgresql:///${db}?host=${encodeURIComponent(host)}&port=${port}${user ? `&user=${user}` : ""}`
    : `postgresql://${user}@${host}:${port}/${db}`;
}

/**
 * The target when --uri is not given: $PGURI, then $DATABASE_URL (as Heroku-style platforms set it), then libpq's PGHOST/PGPORT/PGUSER/PGDATABASE, then the local
 * stack's direct URI. Also points PGPASSFILE at the stack's password file when nothing else says where it is.
 */
export function targetUri(given: string | undefined, stackDir = defaultStackDir()): string {
  const paths = stackPaths(stackDir);
  const env = process.env;
  const fromLibpq = env.PGHOST ? libpqUri(env) : undefined;
  const cfg = readStackConfig(paths);
  const uri =
    given ?? env.PGURI ?? env.DATABASE_URL ?? fromLibpq ?? (cfg ? stackUris(cfg, paths).direct : undefined);
  if (!uri) {
    throw new UsageError(
      "no target: give --uri, set PGURI or DATABASE_URL, or start the local stack with 'dcpbench stack up'",
    );
  }
  usePgpassOf(stackDir);
  return uri;
}

/** Points PGPASSFILE at the local stack's password file, when there is one and nothing else says where it is. */
export function usePgpassOf(stackDir = defaultStackDir()): void {
  const paths = stackPaths(stackDir);
  if (!process.env.PGPASSFILE && existsSync(paths.pgpass)) process.env.PGPASSFILE = paths.pgpass;
}

/**
 * --txn-pooling when not given: yes when the URI is the local stack's PgBouncer or HAProxy, whose PgBouncers pool
 * transactions (a pooled run is then labelled and treated as one); otherwise as given.
 */
export function txnPoolingFor(
  given: boolean | undefined,
  uri: string,
  stackDir = defaultStackDir(),
): boolean | undefined {
  if (given !== undefined) return given;
  try {
    return stackRole(readStackConfig(stackPaths(stackDir)), uri) === "pooler" || undefined;
  } catch {
    // A URI URL cannot parse is refused where it is validated, with its own message.
    return undefined;
  }
}
