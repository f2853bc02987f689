import assert from "node:assert/strict";
import { createServer, type AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { runCli } from "./helpers/cli.js";

// Passwords with reserved characters, typed without percent-encoding: whatever the parser makes of them, no
// part of the password reaches the terminal, in any command or option that takes a URI.
const PASSWORDS = ["p@ss:w/rd%?&", "pa#ss/w", "se/cr?et"];
const uriWith = (password: string) => `postgresql://u:${password}@127.0.0.1:1/db`;
/** The pieces of a password that must not be printed: every run of 3 characters of it. */
const pieces = (password: string) =>
  Array.from({ length: password.length - 2 }, (_, i) => password.slice(i, i + 3));

describe("a URI with an unencoded password is never echoed", () => {
  const commands: Array<(uri: string) => string[]> = [
    (uri) => ["run", "select1", "--uri", uri, "--iterations", "1"],
    (uri) => ["init", "select1", "--uri", uri],
    (uri) => ["check", "bank", "--uri", uri],
    (uri) => ["sweep", "select1", "--target", `a=${uri}`, "--conns", "1", "--duration", "1s"],
    (uri) => ["sweep", "select1", "--target", uri, "--conns", "1", "--duration", "1s"],
    (uri) => ["run", "select1", "--uri", "postgresql://u@127.0.0.1:1/db", "--observe-uri", uri],
    (uri) => ["run", "select1", "--uri", "postgresql://u@127.0.0.1:1/db", "--pgbouncer-admin", uri],
  ];
  for (const password of PASSWORDS) {
    it(`'${password}': one line, exit 2, nothing of the password, advice to percent-encode`, async () => {
      for (const argv of commands.map((c) => c(uriWith(password)))) {
        const res = await runCli(argv, { ...process.env, PGPASSFILE: "/nonexistent" }, 30_000);
        const what = `${argv.slice(0, 2).join(" ")} ${argv.find((a) => a.startsWith("--") && a !== "--uri") ?? ""}`;
        assert.equal(res.code, 2, `${what}: ${res.stderr}`);
        assert.equal(res.stderr.trim().split("\n").length, 1, `${what}: ${res.stderr}`);
        if (!/no NAME=/.test(res.stderr)) assert.match(res.stderr, /percent-encoded/, what);
        for (const piece of pieces(password))
          assert.ok(!(res.stdout + res.stderr).includes(piece), `${what} printed '${piece}': ${res.stderr}`);
      }
    });
  }
});

describe("a busy --prometheus-port", () => {
  it("is found before anything connects: its own line, not the database's error", async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      // The database is unreachable too: the port is what is reported, found first.
      const res = await runCli(
        ["run", "select1", "--uri", "postgresql://u@127.0.0.1:1/db", "--prometheus-port", String(port)],
        process.env,
        30_000,
      );
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, new RegExp(`^dcpbench: --prometheus-port ${port}: .*EADDRINUSE.*\\n$`));
    } finally {
      busy.close();
    }
  });
});
