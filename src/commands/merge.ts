import { basename, dirname, join, resolve } from "node:path";
import type { CommandModule } from "yargs";
import { RunFailure, ThresholdCrossed, UsageError } from "../errors.js";
import { mergeShards } from "../results/merge.js";
import { checkHistograms, readResult } from "../results/io/read.js";
import { parameterTable, summaryTable } from "../results/tables.js";
import { ensureDir, resultBaseName, saveWithFallback, writeResultAs } from "../results/io/write.js";

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
          "the merged result's .json path (a .csv timeline is written beside it; a file that is there is never replaced: -2, -3 … is added) [default: beside the first shard]",
      })
      .example("$0 merge results/shard-*.json --out results/fleet.json", "three hosts' shards, one result")
      .example(
        "$0 compare results/fleet.json results/baseline.json",
        "then compare, report or gate it as any run",
      ),
  handler: (args) => {
    const files = args.shards.map(String);
    if (args.out !== undefined && !args.out.endsWith(".json"))
      throw new UsageError(`--out ${args.out}: give a .json path`);
    const output = args.out === undefined ? undefined : resolve(args.out);
    const input = files.find(
      (f) => resolve(f) === output || resolve(f) === output?.replace(/\.json$/, ".csv"),
    );
    if (input !== undefined)
      throw new UsageError(`--out ${args.out} is one of the shards merged: give a new path`);
    const shards = files.map((file) => ({ file, result: readResult(file) }));
    for (const s of shards) checkHistograms(s.result, s.file);
    const merged = mergeShards(shards);
    // Beside the first shard unless told; never over a file that is there (a shard's, or an earlier merge's).
    const [dir, base] = output
      ? [dirname(output), basename(output, ".json")]
      : [dirname(resolve(files[0])), `${resultBaseName(merged)}_merged`];
    const { json: out } = saveWithFallback(
      "the merged result",
      dir,
      (d) => {
        ensureDir(d);
        return writeResultAs(merged, join(d, base));
      },
      (line) => process.stderr.write(`${line}\n`),
    );
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
