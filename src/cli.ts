#!/usr/bin/env -S node --single-threaded-gc --no-memory-reducer
// The runner's V8 flags (they can only be given at start-up, hence here; workers get them too): GC helper
// threads and idle-time full GCs would take cores from the load (BENCHMARKS.md, "Measurements behind choices").
// `node dist/src/cli.js` runs without them; results are the same, the schedule a little less steady.
import yargs, { type MiddlewareFunction } from "yargs";
import { hideBin } from "yargs/helpers";
import { CliError } from "./errors.js";
import { fillFromEnvAndConfig, optionNames, type KnownOptions } from "./options/env-and-config.js";
import { VERSION } from "./version.js";
import { printable } from "./results/io/printable.js";
import { cancelCheckCommand } from "./commands/cancel-check.js";
import { checkCommand } from "./commands/check.js";
import { compareCommand } from "./commands/compare.js";
import { initCommand } from "./commands/init.js";
import { mergeCommand } from "./commands/merge.js";
import { newWorkloadCommand } from "./commands/new-workload.js";
import { reportCommand } from "./commands/report.js";
import { runCommand } from "./commands/run.js";
import { stackCommand } from "./commands/stack.js";
import { sweepCommand } from "./commands/sweep.js";

function fail(message: string, code: number): never {
  // One line, always: messages may quote a file or a server's multi-line text.
  process.stderr.write(`dcpbench: ${printable(message.replace(/\s*\n\s*/g, " ")).trim()}\n`);
  process.exit(code);
}

/** The options that may be given more than once (each adds to a list). */
const LIST_OPTIONS = new Set(["set", "fault", "threshold", "target", "fail-if"]);

/**
 * A single-valued option given twice is refused: yargs would make a list of it, and a number option then held
 * the sum (`--workers 2 --workers 1` ran 3 workers).
 */
function refuseRepeated(argv: string[]): void {
  const seen = new Set<string>();
  for (const name of optionNames(argv)) {
    if (LIST_OPTIONS.has(name)) continue;
    if (seen.has(name)) fail(`--${name} is given twice: give it once`, 2);
    seen.add(name);
  }
}

async function main(): Promise<void> {
  refuseRepeated(hideBin(process.argv));
  const parser = yargs(hideBin(process.argv))
    .scriptName("dcpbench")
    // yargs would read the version from the package.json nearest the working directory: the user's project.
    .version(VERSION)
    .usage(
      "$0 <command> [options]\n\nLoad tests for PostgreSQL-wire databases: direct connections vs PgBouncer pooling.",
    )
    .command(initCommand)
    .command(runCommand)
    .command(sweepCommand)
    .command(compareCommand)
    .command(mergeCommand)
    .command(reportCommand)
    .command(checkCommand)
    .command(cancelCheckCommand)
    .command(newWorkloadCommand)
    .command(stackCommand)
    .option("config", {
      type: "string",
      global: true,
      describe: 'a JSON file of this command\'s options, e.g. {"conns": 64, "duration": "60s"}',
    })
    // Before validation, so that what the environment and --config fill in is checked like the command line.
    .middleware(
      ((argv: Record<string, unknown>, y: { getOptions(): KnownOptions }) =>
        fillFromEnvAndConfig(
          argv,
          y.getOptions(),
          new Set(optionNames(hideBin(process.argv))),
          process.env,
        )) as unknown as MiddlewareFunction,
      true,
    )
    .completion("completion", "print a bash/zsh completion script (dcpbench completion >> ~/.bashrc)")
    .demandCommand(1, "say which command (see --help)")
    .strict()
    .recommendCommands()
    .wrap(Math.min(120, process.stdout.columns || 120))
    .epilogue(
      "Every option can also come from the environment, DCPBENCH_<OPTION> (DCPBENCH_CONNS=64), or from --config " +
        "FILE; the command line wins, then the environment, then the file.\n" +
        "Exit codes: 0 success, 1 the run failed, 2 bad usage or input, 3 a threshold was crossed.",
    )
    .fail((msg, err) => {
      if (err) throw err;
      fail(msg, 2);
    });
  await parser.parseAsync();
}

main().catch((err: unknown) => {
  if (err instanceof CliError) fail(err.message, err.exitCode);
  const e = err as Error;
  if (process.env.DCPBENCH_DEBUG) process.stderr.write(`${e?.stack ?? err}\n`);
  fail(e?.message ?? String(err), 1);
});
