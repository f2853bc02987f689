import { saveWithFallback, writeResult } from "../results/io/write.js";
import type { ResultFile } from "../schema/result.js";
import type { Output } from "./output.js";

/** The result file and its timeline CSV, written once at the end (to a temporary directory if `dir` fails). */
export class ResultWriter implements Output {
  files: { json: string; csv: string } | undefined;

  constructor(
    private readonly dir: string,
    private readonly say: (line: string) => void,
  ) {}

  end(result: ResultFile): void {
    this.files = saveWithFallback("the result", this.dir, (dir) => writeResult(result, dir), this.say);
  }
}
