import type { CommandModule } from "yargs";
import { probeServer } from "../db/connect.js";
import { redactUri } from "../db/uri.js";
import { CliError, UsageError } from "../errors.js";
import { initWorkload } from "../workload/init.js";
import { builtinWorkloads, loadWorkload, resolveWorkloadRef } from "../workload/registry.js";
import { targetUri } from "./target.js";

interface InitArgs {
  workload: string;
  uri?: string;
  scale?: number;
  drop: boolean;
}

export const initCommand: CommandModule<object, InitArgs> = {
  command: "init <workload>",
  describe: "create a workload's schema for the detected dialect and populate it (set-based SQL)",
  builder: (y) =>
    y
      .positional("workload", {
        type: "string",
        demandOption: true,
        describe: builtinWorkloads().join(" | "),
      })
      .option("uri", { type: "string", describe: "target (default: as for run)" })
      .option("scale", {
        type: "number",
        describe: "1 = the seed's size (flight ≈1,000,000 flights; train 20,000 events); tpcb: pgbench's -s",
      })
      .option("drop", { type: "boolean", default: false, describe: "drop the workload's tables first" })
      .example("$0 init flight --scale 0.01", "10,000 flights, for a quick try")
      .example("$0 init tpcb --scale 10 --drop", "pgbench -i -s 10, done by dcpbench"),
  handler: async (args) => {
    const uri = targetUri(args.uri);
    const workload = await loadWorkload(resolveWorkloadRef(args.workload));
    const scale = args.scale ?? 1;
    if (!(scale > 0)) throw new UsageError("--scale must be > 0");
    const server = await probeServer({ uri, appName: "dcpbench-init", connectTimeoutMs: 10_000 });
    process.stderr.write(`dcpbench init ${workload.name} --scale ${scale} → ${redactUri(uri)}\n`);
    const interrupt = new AbortController();
    let signal = "SIGINT" as NodeJS.Signals;
    const onSignal = (s: NodeJS.Signals) => {
      signal = s;
      interrupt.abort();
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    let done;
    try {
      done = await initWorkload(workload, {
        uri,
        scale,
        drop: args.drop,
        log: (line) => process.stderr.write(`  ${line}\n`),
        interrupt: interrupt.signal,
      });
    } catch (err) {
      if (!interrupt.signal.aborted) throw err;
      // PostgreSQL rolls the whole init back; CockroachDB keeps what its steps did, without the completion mark.
      throw new CliError(
        server.product === "postgres"
          ? "init interrupted: nothing was changed (the init ran in one transaction)"
          : `init interrupted: its tables are left unfinished; run 'dcpbench init ${workload.name}' again`,
        signal === "SIGTERM" ? 143 : 130,
      );
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    const { dialect, seconds } = done;
    console.log(`initialised ${workload.name} (${dialect}, scale ${scale}) in ${seconds.toFixed(1)}s`);
  },
};
