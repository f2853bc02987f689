import { UsageError } from "../errors.js";

/**
 * The URI with its password (and any password-like parameter) replaced by "***". Works on the raw text
 * first, so that a URI the URL parser reads differently (a '#' in the password) or cannot read at all (a
 * libpq keyword/value string) still never shows a secret.
 */
export function redactUri(uri: string): string {
  const masked = String(uri)
    // scheme://user:password@host — up to the last '@' of the text, whatever an unencoded password holds ('/',
    // '?', '#', '@'); also where the URI does not start the text (`name=postgresql://…` typed in a wrong place).
    .replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):\S*@/gi, "$1:***@")
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

const ENCODE_HINT =
  "reserved characters in the user name and password must be percent-encoded (@ as %40, / as %2F, # as %23, ? as %3F, % as %25)";

/** " (postgresql://…)" when the text starts with a scheme; else nothing. */
function schemeOf(uri: string): string {
  const m = /^([a-z][a-z0-9+.-]{0,20}):\/\//i.exec(uri);
  return m ? ` (${m[1]}://…)` : "";
}

/**
 * An '@' after the host that belongs to an unencoded password or user name, read by the parser as the path
 * (`u:123/x@h/db`), a query without '=' (`u:12?x@h/db`) or a fragment. A parameter's value may hold one
 * (`?application_name=me@host`).
 */
function misplacedAt(u: URL): boolean {
  const bareQuery = u.search
    .slice(1)
    .split("&")
    .some((part) => part.includes("@") && !part.includes("="));
  return u.pathname.includes("@") || u.hash.includes("@") || bareQuery;
}

/** Checks that a URI is a postgres:// or postgresql:// URL with a host; one-line error otherwise. */
export function validateUri(uri: string, option = "--uri"): URL {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    // libpq reads `postgresql://user@/db?host=/dir`; the URL parser refuses a user without a host.
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#@]*@\//i.test(uri))
      throw new UsageError(
        `${option}: a user name with no host${schemeOf(uri)}; for a Unix socket write postgresql:///db?host=/socket/dir&user=NAME`,
      );
    // Nothing of it is echoed: what cannot be parsed cannot be told apart from its password.
    throw new UsageError(
      `${option}: not a valid URI${schemeOf(uri)}; expected postgresql://user:password@host:port/db, where ${ENCODE_HINT}`,
    );
  }
  if (misplacedAt(u)) {
    throw new UsageError(`${option}: an '@' after the host in the URI${schemeOf(uri)}; ${ENCODE_HINT}`);
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new UsageError(`${option}: scheme must be postgresql:// or postgres://, got ${u.protocol}//`);
  }
  if (u.port && !(Number(u.port) > 0 && Number(u.port) < 65536)) {
    throw new UsageError(`${option}: bad port '${u.port}'`);
  }
  return u;
}
