import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { parseIntoClientConfig } from "pg-connection-string";
import { stackDown, stackUp, type StackStatus, type UpOptions } from "../../src/stack/stack.js";
import { assertPortFree } from "../../src/stack/system.js";

export interface TestStack {
  dir: string;
  status: StackStatus;
  password: string;
  /** env for a child process that should find the stack's password the way a user would (PGPASSFILE). */
  env: NodeJS.ProcessEnv;
  client(uri: string, extra?: pg.ClientConfig): Promise<pg.Client>;
  down(): Promise<void>;
}

/** Five consecutive free loopback ports, starting at a random base so parallel runs rarely collide. */
export async function freePortBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 400) * 100;
    try {
      for (let p = base; p < base + 5; p++) await assertPortFree(p, "probe");
      return base;
    } catch {
      // taken; try another base
    }
  }
  throw new Error("no free port range found");
}

/** A real stack (PostgreSQL + PgBouncer, HAProxy with ha) in a temp dir on free ports. */
export async function startStack(opts: Omit<UpOptions, "dir" | "portBase"> = {}): Promise<TestStack> {
  const dir = mkdtempSync(join(tmpdir(), "dcpbench-test-"));
  chmodSync(dir, 0o755); // the service user (postgres, when we are root) must reach it
  const { status } = await stackUp({ ...opts, dir, portBase: await freePortBase() });
  const password = readFileSync(status.pgpassfile, "utf8").split("\n")[0].split(":")[4];
  const open: pg.Client[] = [];
  return {
    dir,
    status,
    password,
    env: { ...process.env, PGPASSFILE: status.pgpassfile, DCPBENCH_STACK_DIR: dir },
    async client(uri, extra = {}) {
      const c = new pg.Client({ ...parseIntoClientConfig(uri), password, ...extra });
      c.on("error", () => {}); // a test may kill the server under it
      await c.connect();
      open.push(c);
      return c;
    },
    async down() {
      await Promise.all(open.map((c) => c.end().catch(() => {})));
      await stackDown(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
