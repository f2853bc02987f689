import { statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { CommandModule } from "yargs";
import { UsageError } from "../errors.js";
import { buildReportData } from "../results/report/data.js";
import { renderReportHtml } from "../results/report/html.js";
import { checkHistograms, readResult } from "../results/io/read.js";
import { isSweepIndex, loadSweepPoints, readSweepIndex } from "../results/sweeps/index-file.js";
import { renderSweepHtml } from "../results/sweeps/report.js";
import { sweepSeries } from "../results/sweeps/summary.js";
import { saveWithFallback, writeAtomically } from "../results/io/write.js";

interface ReportArgs {
  results: string[];
  html: string;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: "report <results..>",
  describe: "compare result files in one self-contained HTML page (tables and charts; works offline)",
  builder: (y) =>
    y
      .positional("results", {
        type: "string",
        array: true,
        demandOption: true,
        describe: "result files (.json) written by run, e.g. a direct and a pooled run; or one sweep index",
      })
      .option("html", {
        type: "string",
        demandOption: true,
        requiresArg: true,
        describe: "write the report to this file",
      })
      .example(
        "$0 report results/direct_*.json results/pooled_*.json --html report.html",
        "direct vs pooled, side by side",
      )
      .example("$0 report results/sweep_tpcb_*.json --html sweep.html", "a sweep's curves and crossover"),
  handler: (args) => {
    const paths = args.results.map(String);
    if (paths.length === 0) throw new UsageError("report: give at least one result file");
    if (!args.html || typeof args.html !== "string") throw new UsageError("--html: give the page's path");
    const html = paths.length === 1 && isSweepIndex(paths[0]) ? sweepPage(paths[0]) : runsPage(paths);
    const page = resolve(args.html);
    if (!statSync(dirname(page), { throwIfNoEntry: false })?.isDirectory())
      throw new UsageError(`--html ${args.html}: no directory ${dirname(page)}`);
    if (statSync(page, { throwIfNoEntry: false })?.isDirectory())
      throw new UsageError(`--html ${args.html} is a directory: give the page's file name`);
    const written = saveWithFallback(
      "the report",
      dirname(page),
      (dir) => {
        const path = join(dir, basename(page));
        writeAtomically(path, html);
        return path;
      },
      (line) => process.stderr.write(`${line}\n`),
    );
    console.log(written === page ? args.html : written);
  },
};

function runsPage(paths: string[]): string {
  const results = paths.map((path) => ({ path, result: readResult(path) }));
  for (const r of results) checkHistograms(r.result, r.path);
  return renderReportHtml(buildReportData(results));
}

function sweepPage(path: string): string {
  const index = readSweepIndex(path);
  return renderSweepHtml(index, sweepSeries(index.plan, loadSweepPoints(path, index)));
}
