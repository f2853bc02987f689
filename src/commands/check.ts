import pg from "pg";
import type { CommandModule } from "yargs";
import { clientConfig, dialectOf, findPassword } from "../db/connect.js";
import { PgSession, viaPg } from "../db/session.js";
import { RunFailure, UsageError } from "../errors.js";
import { loadWorkload, resolveWorkloadRef } from "../workload/registry.js";
import { probeServer } from "../db/connect.js";
import { targetUri } from "./target.js";

export const checkCommand: CommandModule<object, { workload: string; uri?: string }> = {
  command: "check <workload>",
  describe: "verify a workload's invariant (bank: the sum of balances is unchanged); exit 1 when broken",
  builder: (y) =>
    y
      .positional("workload", { type: "string", demandOption: true })
      .option("uri", { type: "string", describe: "target (default: as for run)" })
      .example('$0 check bank --uri "$DIRECT_URI"', "after a fault test"),
  handler: async (args) => {
    const uri = targetUri(args.uri);
    const workload = await loadWorkload(resolveWorkloadRef(args.workload));
    if (!workload.check) throw new UsageError(`workload ${workload.name} has no check`);
    await probeServer({ uri, appName: "dcpbench-check", connectTimeoutMs: 10_000 });
    const client = new pg.Client(
      clientConfig({ uri, appName: "dcpbench-check", connectTimeoutMs: 10_000 }, await findPassword(uri)),
    );
    await client.connect();
    try {
      const dialect = dialectOf((await client.query<{ v: string }>("SELECT version() AS v")).rows[0].v);
      const result = await workload.check(
        new PgSession(viaPg(client), dialect, "extended", { onRetry: () => {} }),
      );
      if (!result.ok) throw new RunFailure(`${workload.name} check FAILED: ${result.message}`);
      console.log(`${workload.name} check ok: ${result.message}`);
    } finally {
      await client.end().catch(() => {});
    }
  },
};
