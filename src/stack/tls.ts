import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ServiceUser } from "./system.js";

export interface TlsFiles {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

export function tlsFiles(stackDir: string): TlsFiles {
  const dir = join(stackDir, "tls");
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
  };
}

function openssl(args: string[]): void {
  try {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const detail = String((err as { stderr?: Buffer }).stderr ?? (err as Error).message)
      .trim()
      .split("\n")
      .pop();
    throw new Error(`openssl ${args[0]} failed: ${detail}`, { cause: err });
  }
}

/**
 * A self-signed CA and a server certificate for 127.0.0.1 / localhost (made once with openssl, kept in
 * DIR/tls): PostgreSQL and PgBouncer serve it, and clients verify it with
 * `?sslmode=verify-full&sslrootcert=DIR/tls/ca.crt`. The server key belongs to the service user, mode 0600,
 * as PostgreSQL requires.
 */
export function ensureTls(stackDir: string, owner: ServiceUser): TlsFiles {
  const f = tlsFiles(stackDir);
  if (!existsSync(f.serverCert)) {
    mkdirSync(f.dir, { recursive: true, mode: 0o755 });
    openssl(
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        "/CN=dcpbench local CA",
      ].concat([
        "-keyout",
        f.caKey,
        "-out",
        f.caCert,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=keyCertSign,cRLSign",
      ]),
    );
    const csr = join(f.dir, "server.csr");
    const ext = join(f.dir, "server.ext");
    openssl([
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      "/CN=127.0.0.1",
      "-keyout",
      f.serverKey,
      "-out",
      csr,
    ]);
    execFileSync("sh", [
      "-c",
      `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > '${ext}'`,
    ]);
    openssl(
      [
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        f.caCert,
        "-CAkey",
        f.caKey,
        "-CAcreateserial",
        "-days",
        "3650",
      ].concat(["-out", f.serverCert, "-extfile", ext]),
    );
  }
  chmodSync(f.caKey, 0o600);
  chmodSync(f.serverKey, 0o600);
  if (owner.switchUser) {
    chownSync(f.serverKey, owner.uid, owner.gid);
    chownSync(f.serverCert, owner.uid, owner.gid);
  }
  return f;
}
