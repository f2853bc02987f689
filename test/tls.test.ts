import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { parseIntoClientConfig } from "pg-connection-string";
import { runCli, runToResult } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";

describe("stack up --tls: verify-full directly and through PgBouncer", { timeout: 120_000 }, () => {
  let stack: TestStack;
  let ca: string;
  const verifyFull = (uri: string, caFile = ca) =>
    `${uri}?sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}`;

  before(async () => {
    stack = await startStack({ tls: true });
    ca = stack.status.tlsCa!;
    assert.ok(ca, "the stack reports its CA certificate");
  });
  after(async () => {
    await stack?.down();
  });

  for (const via of ["direct", "pgbouncer"] as const) {
    it(`runs with sslmode=verify-full ${via === "direct" ? "against PostgreSQL" : "through PgBouncer"}, on TLS`, async () => {
      const uri = verifyFull(via === "direct" ? stack.status.uris.direct : stack.status.uris.pgbouncer[0]);
      const { result } = await runToResult(
        [
          "select1",
          "--uri",
          uri,
          ...(via === "pgbouncer" ? ["--txn-pooling"] : []),
          "--iterations",
          "20",
          "--conns",
          "2",
          "--progress",
          "off",
        ],
        { env: stack.env },
      );
      assert.equal(result.summary.select.count, 40);

      // And the session really is encrypted.
      const client = new pg.Client({
        ...parseIntoClientConfig(uri),
        password: stack.password,
        application_name: "tls-probe",
      });
      await client.connect();
      if (via === "direct") {
        const { rows } = await client.query(
          "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        );
        assert.equal(rows[0].ssl, true);
        assert.match(rows[0].version, /^TLSv1\.[23]$/);
      } else {
        const admin = await stack.client(stack.status.uris.pgbouncerAdmin[0]);
        const clients = await admin.query("SHOW CLIENTS");
        const mine = clients.rows.find((r) => r.application_name === "tls-probe");
        assert.match(String(mine?.tls), /TLSv1\.[23]/, "PgBouncer sees a TLS client");
      }
      await client.end();
    });
  }

  it("refuses a server whose certificate another CA signed: one line, exit 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dcpbench-otherca-"));
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other CA"].concat([
        "-keyout",
        join(dir, "ca.key"),
        "-out",
        join(dir, "ca.crt"),
      ]),
      { stdio: "ignore" },
    );
    const res = await runCli(
      [
        "run",
        "select1",
        "--uri",
        verifyFull(stack.status.uris.direct, join(dir, "ca.crt")),
        "--iterations",
        "1",
      ],
      stack.env,
    );
    assert.equal(res.code, 2);
    assert.equal(res.stderr.trim().split("\n").length, 1, res.stderr);
    assert.match(res.stderr, /cannot connect to .*unable to verify the first certificate/i);
  });
});
