import { UsageError } from "../errors.js";

/** The URI with its password (and any password-like query parameter) replaced by "***". */
export function redactUri(uri: string): string {
  try {
    const u = new URL(uri);
    if (u.password) u.password = "***";
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|key$/i.test(key) && key !== "sslkey") u.searchParams.set(key, "***");
    }
    return u.toString();
  } catch {
    // Not parseable: keep only the scheme, never echo something that may hold a secret.
    return uri.replace(/\/\/.*$/, "//***");
  }
}

/** Checks that a URI is a postgres:// or postgresql:// URL with a host; one-line error otherwise. */
export function validateUri(uri: string, option = "--uri"): URL {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new UsageError(
      `${option}: not a valid URI: ${redactUri(uri)} (expected postgresql://user@host:port/db)`,
    );
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new UsageError(`${option}: scheme must be postgresql:// or postgres://, got ${u.protocol}//`);
  }
  if (u.port && !(Number(u.port) > 0 && Number(u.port) < 65536)) {
    throw new UsageError(`${option}: bad port '${u.port}'`);
  }
  return u;
}
