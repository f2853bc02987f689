import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CommandModule } from "yargs";
import { UsageError } from "../errors.js";
import { workloadStub } from "../workload/stub.js";

export const newWorkloadCommand: CommandModule<object, { name: string; dir: string; force: boolean }> = {
  command: "new-workload <name>",
  describe:
    "write a commented workload stub NAME.mjs (an ES module in any project) to start your own workload from",
  builder: (y) =>
    y
      .positional("name", { type: "string", demandOption: true })
      .option("dir", { type: "string", default: ".", describe: "where to write NAME.mjs" })
      .option("force", { type: "boolean", default: false, describe: "overwrite an existing file" })
      .example("$0 new-workload orders && $0 run ./orders.mjs --iterations 100", "write, then run it"),
  handler: (args) => {
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(args.name)) {
      throw new UsageError(
        `workload name '${args.name}': use letters, digits, '_' or '-', starting with a letter`,
      );
    }
    // .mjs: an ES module whatever the project's package.json says ("type": "module" or not).
    const file = join(args.dir, `${args.name}.mjs`);
    if (existsSync(file) && !args.force) throw new UsageError(`${file} exists (add --force to overwrite it)`);
    try {
      writeFileSync(file, workloadStub(args.name));
    } catch (err) {
      throw new UsageError(`cannot write ${file}: ${(err as Error).message}`);
    }
    console.log(
      `wrote ${file}; run it with: npx dcpbench run ${file.startsWith("/") ? file : `./${file}`} --iterations 100`,
    );
  },
};
