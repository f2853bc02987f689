import { UsageError } from "../errors.js";

/**
 * The URI with its password (and any password-like parameter) replaced by "***". Works on the raw text
 * first, so that a URI the URL parser reads differently (a '#' in the password) or cannot read at all (a
 * libpq keyword/value string) still never shows a secret.
 */
export function redactUri(uri: string): string {
  const masked = String(uri)
    // scheme://user:password@host — up to the last '@' of the authority, whatever the password holds; also
    // where the URI does not start the text (`name=postgresql://…` as typed in a wrong place).
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*):[^/]*@/gi, "$1:***@")
    // password=… in a keyword/value string or a query string.
    .replace(/((?:^|[\s?&])[\w-]*(?:pass|secret)[\w-]*\s*=\s*)('[^']*'|[^\s&]*)/gi, "$1***");
  try {
    const u = new URL(masked);
    if (u.password && u.password !== "***") u.password = "***";
    return u.toString();
  } catch {
    return masked;
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
