import { writeFileSync } from "node:fs";
import type { CommandModule } from "yargs";
import { UsageError } from "../errors.js";
import { buildReportData } from "../results/report-data.js";
import { renderReportHtml } from "../results/report-html.js";
import { readResult } from "../results/read.js";

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
        describe: "result files (.json) written by run, e.g. a direct and a pooled run",
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
      ),
  handler: (args) => {
    const paths = args.results.map(String);
    if (paths.length === 0) throw new UsageError("report: give at least one result file");
    if (!args.html || typeof args.html !== "string") throw new UsageError("--html: give the page's path");
    const results = paths.map((path) => ({ path, result: readResult(path) }));
    const html = renderReportHtml(buildReportData(results));
    try {
      writeFileSync(args.html, html);
    } catch (err) {
      throw new UsageError(`--html ${args.html} cannot be written: ${(err as Error).message}`);
    }
    console.log(args.html);
  },
};
