import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { clearLeftovers } from "../src/db/leftovers.js";
import { runToResult } from "./helpers/cli.js";
import { startStack, type TestStack } from "./helpers/stack.js";

/** Sessions of `app` on the stack's server now. */
async function sessionsOf(stack: TestStack, app: string): Promise<number> {
  const c = await stack.client(stack.status.uris.direct);
  try {
    const { rows } = await c.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1",
      [app],
    );
    return Number(rows[0].n);
  } finally {
    await c.end();
  }
}

describe("statements that outlive their clients are not left to the next run", { timeout: 120_000 }, () => {
  let stack: TestStack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.down();
  });

  it("a run waits for its own orphaned statements to end before it returns", async () => {
    // Each cycle sleeps 4 s in the server; the window is 1 s and nothing is drained: every client is cut off
    // mid-statement, and its backend sleeps on after the client has gone.
    const run = await runToResult(
      ["select1", "--set", "sleep_ms=4000", "--conns", "3", "--duration", "1s", "--warmup", "0"].concat([
        "--drain",
        "0s",
        "--label",
        "orphans",
      ]),
      { env: stack.env },
    );
    assert.match(run.stderr, /3 session\(s\) of this run still on the server after their clients left/);
    assert.match(run.stderr, /they ended after [\d.]+ s/);
    assert.equal(await sessionsOf(stack, "dcpbench-orphans"), 0);
  });

  it("what does not end within the wait is ended", async () => {
    const c = await stack.client(stack.status.uris.direct, { application_name: "dcpbench-left" });
    c.query("SELECT pg_sleep(60)").catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
    c.connection.stream.destroy(); // the client is gone; its backend sleeps on
    const lines: string[] = [];
    process.env.PGPASSFILE = stack.status.pgpassfile;
    await clearLeftovers(stack.status.uris.direct, ["dcpbench-left"], "the test", (l) => lines.push(l), 1000);
    assert.match(lines.join("\n"), /1 session\(s\) of the test still on the server/);
    assert.match(lines.join("\n"), /ended 1 of them after 1 s \(pg_terminate_backend\)/);
    // Terminated: gone within a moment.
    for (let i = 0; i < 20 && (await sessionsOf(stack, "dcpbench-left")) > 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(await sessionsOf(stack, "dcpbench-left"), 0);
  });
});
