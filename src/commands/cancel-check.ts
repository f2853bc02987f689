import type { CommandModule } from "yargs";
import { probeServer } from "../db/connect.js";
import { probeCancels } from "../db/cancel.js";
import { redactUri } from "../db/uri.js";
import { RunFailure, UsageError } from "../errors.js";
import { parseDuration } from "../options/units.js";
import { targetUri } from "./target.js";

interface CancelCheckArgs {
  uri?: string;
  tries: number;
  sleep: string;
  concurrency: number;
  json: boolean;
}

const APP_NAME = "dcpbench-cancel-check";

export const cancelCheckCommand: CommandModule<object, CancelCheckArgs> = {
  command: "cancel-check",
  describe:
    "cancel running queries through a target and count the cancels that reached them; exit 1 when any was lost",
  builder: (y) =>
    y
      .option("uri", { type: "string", describe: "target (default: as for run)" })
      .option("tries", { type: "number", default: 20, describe: "queries to start and cancel" })
      .option("sleep", {
        type: "string",
        default: "2s",
        describe: "each query is a pg_sleep this long: a lost cancel shows as a query that ran it out",
      })
      .option("concurrency", { type: "number", default: 5, describe: "tries at once" })
      .option("json", { type: "boolean", default: false, describe: "print the counts and each try as JSON" })
      .example(
        '$0 cancel-check --uri "$POOLED_URI"',
        "behind PgBouncer with several processes on one port (stack up --pgbouncer-procs 2), some cancels are lost",
      ),
  handler: async (args) => {
    for (const [k, v] of Object.entries({ tries: args.tries, concurrency: args.concurrency })) {
      if (!Number.isInteger(v) || v <= 0 || v > 10_000)
        throw new UsageError(`--${k} must be an integer 1–10000`);
    }
    const sleepMs = parseDuration(args.sleep, "--sleep");
    if (sleepMs < 1000 || sleepMs > 60_000) throw new UsageError("--sleep must be between 1s and 60s");
    const uri = targetUri(args.uri);
    await probeServer({ uri, appName: APP_NAME, connectTimeoutMs: 10_000 });
    const probe = await probeCancels({
      uri,
      tries: args.tries,
      sleepSec: sleepMs / 1000,
      concurrency: args.concurrency,
      appName: APP_NAME,
    });
    if (args.json) console.log(JSON.stringify({ uri: redactUri(uri), ...probe }, null, 2));
    else {
      const median =
        probe.honouredMedianMs === undefined
          ? ""
          : ` (the query ended ${probe.honouredMedianMs} ms after, median)`;
      console.log(`cancels through ${redactUri(uri)}: ${probe.honoured} of ${probe.tries} honoured${median}`);
      if (probe.ignored > 0)
        console.log(
          `${probe.ignored} lost: the query ran its whole ${args.sleep} (the cancel reached a process that did not hold it)`,
        );
      if (probe.failed > 0) console.log(`${probe.failed} tries failed before a cancel could be sent`);
    }
    if (probe.failed === probe.tries) throw new RunFailure("no try reached the point of sending a cancel");
    if (probe.ignored > 0) throw new RunFailure(`${probe.ignored} of ${probe.tries} cancels were lost`);
  },
};
