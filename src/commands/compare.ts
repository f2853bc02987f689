import type { CommandModule } from "yargs";
import { ThresholdCrossed } from "../errors.js";
import { compareFile, FORMATS, formatComparison, type Format } from "../results/compare/format.js";
import { compareResults } from "../results/compare/compare.js";
import { evaluateGates, parseGate } from "../results/compare/gates.js";
import { readResult } from "../results/io/read.js";

interface CompareArgs {
  results: string[];
  format: Format;
  failIf?: string[];
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: "compare <results..>",
  describe: "side-by-side comparison of result files (the first is the baseline); regression gates for CI",
  builder: (y) =>
    y
      .positional("results", {
        type: "string",
        array: true,
        demandOption: true,
        describe: "result .json files",
      })
      .option("format", { choices: FORMATS, default: "table" as Format, describe: "output format" })
      .option("fail-if", {
        type: "string",
        array: true,
        default: [],
        describe:
          "exit 3 when a change vs the first run crosses it: 'p99>+10%', 'throughput<-5%', 'process.p99>+10%'",
      })
      .example("$0 compare results/direct_flight_*.json results/pooled_flight_*.json", "direct vs pooled")
      .example("$0 compare base.json new.json --fail-if 'p99>+10%' --fail-if 'throughput<-5%'", "a CI gate"),
  handler: (args) => {
    const gates = (args.failIf ?? []).map(String).map(parseGate);
    const files = args.results.map(String);
    const comparison = compareResults(files, files.map(readResult));
    for (const w of comparison.warnings) process.stderr.write(`warning: ${w}\n`);
    const failures = evaluateGates(gates, comparison);
    const out =
      args.format === "json"
        ? JSON.stringify(
            compareFile(
              comparison,
              gates.map((g) => g.expr),
              failures,
            ),
            null,
            2,
          )
        : formatComparison(comparison, args.format);
    process.stdout.write(out + "\n");
    for (const f of failures) process.stderr.write(`FAIL ${f.gate}: ${f.message}\n`);
    if (gates.length > 0 && failures.length === 0) process.stderr.write(`all ${gates.length} gates passed\n`);
    if (failures.length > 0) throw new ThresholdCrossed(`${failures.length} regression gate(s) crossed`);
  },
};
