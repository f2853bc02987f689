import { dirname, join, resolve } from "node:path";
import type { CommandModule } from "yargs";
import { RunFailure, ThresholdCrossed, UsageError } from "../errors.js";
import { mergeShards } from "../results/merge.js";
import { readResult } from "../results/read.js";
import { parameterTable, summaryTable } from "../results/tables.js";
import { ensureDir, resultBaseName, timelineCsv, writeAtomically } from "../results/write.js";

interface MergeArgs {
  shards: string[];
  out?: string;
}

export const mergeCommand: CommandModule<object, MergeArgs> = {
  command: "merge <shards..>",
  describe: "add the results of the shards of one plan (run --shard I/N) into one ordinary result, exactly",
  builder: (y) =>
    y
      .positional("shards", {
        type: "string",
        array: true,
        demandOption: true,
        describe: "the shards' .json files",
      })
      .option("out", {
        type: "string",
        describe:
          "the merged result's .json path (a .csv timeline is written beside it) [default: beside the first shard]",
      })
      .example("$0 merge results/shard-*.json --out results/fleet.json", "three hosts' shards, one result")
      .example(
        "$0 compare results/fleet.json results/baseline.json",
        "then compare, report or gate it as any run",
      ),
  handler: (args) => {
    const files = args.shards.map(String);
    const merged = mergeShards(files.map((file) => ({ file, result: readResult(file) })));
    const out = args.out ?? join(dirname(files[0]), `${resultBaseName(merged)}_merged.json`);
    if (!out.endsWith(".json")) throw new UsageError(`--out ${out}: give a .json path`);
    ensureDir(dirname(resolve(out)));
    writeAtomically(out, JSON.stringify(merged, null, 1) + "\n");
    writeAtomically(out.replace(/\.json$/, ".csv"), timelineCsv(merged));
    const m = merged.merge!;
    process.stdout.write(`${summaryTable(merged)}\n${parameterTable(merged)}\n`);
    process.stderr.write(
      `merged ${m.shards.length} of ${m.count} shards (${m.shards.map((s) => `${s.index}@${s.host}`).join(", ")})` +
        (m.clockSpreadMs !== null
          ? `; clock offsets against the server spread over ${m.clockSpreadMs} ms`
          : "") +
        "\n",
    );
    const late = m.shards.filter((s) => s.lateMs > 0);
    for (const s of late) process.stderr.write(`shard ${s.index} started ${s.lateMs} ms after --start-at\n`);
    process.stdout.write(`result: ${out}\n`);
    for (const t of merged.thresholds)
      process.stdout.write(
        `threshold ${t.ok ? "ok     " : "CROSSED"} ${t.expr} (actual ${t.actual ?? "no such op"})\n`,
      );
    const partialShards = m.shards.filter((s) => s.partial).map((s) => s.index);
    if (m.missing.length || partialShards.length)
      throw new RunFailure(
        `the merge is partial: ${[
          m.missing.length ? `shard(s) ${m.missing.join(", ")} missing` : "",
          partialShards.length ? `shard(s) ${partialShards.join(", ")} partial` : "",
        ]
          .filter(Boolean)
          .join("; ")}`,
      );
    if (merged.exitCode === 3) throw new ThresholdCrossed("a threshold was crossed");
  },
};
