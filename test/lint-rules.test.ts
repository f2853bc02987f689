import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { ESLint } from "eslint";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The rules that fire for `code` as if it were the file at `path` (relative to the project root). */
async function rulesFor(path: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: ROOT });
  const [report] = await eslint.lintText(code, { filePath: `${ROOT}${path}` });
  return report.messages.map((m) => m.ruleId ?? m.message);
}

const IMPORTS = "no-restricted-imports";

describe("the architecture rules are lint errors (eslint.config.js)", () => {
  it("results/ may not import the parts that produce a run", async () => {
    for (const from of [
      "../runner/runner.js",
      "../observe/observer.js",
      "../faults/scheduler.js",
      "../commands/run.js",
    ]) {
      const rules = await rulesFor(
        "src/results/x.ts",
        `import type { X } from "${from}";\nexport type Y = X;\n`,
      );
      assert.ok(rules.includes(IMPORTS), `results/ importing ${from}: ${rules.join(", ")}`);
    }
    assert.deepEqual(
      await rulesFor(
        "src/results/x.ts",
        'import type { X } from "../schema/result.js";\nexport type Y = X;\n',
      ),
      [],
    );
  });

  it("plan.ts may not import results/ or runner/; the schema imports nothing of ours", async () => {
    for (const from of ["./results/thresholds.js", "./runner/cpu-pin.js"]) {
      const rules = await rulesFor("src/plan.ts", `import { x } from "${from}";\nexport const y = x;\n`);
      assert.ok(rules.includes(IMPORTS), `plan.ts importing ${from}: ${rules.join(", ")}`);
    }
    const schema = await rulesFor(
      "src/schema/x.ts",
      'import type { X } from "../metrics/snapshot.js";\nexport type Y = X;\n',
    );
    assert.ok(schema.includes(IMPORTS), schema.join(", "));
  });

  it("run/ is driven by sweep/, and sweep/ by commands/, never the other way round", async () => {
    const cases: Array<[string, string]> = [
      ["src/run/x.ts", "../sweep/execute.js"],
      ["src/sweep/x.ts", "../commands/sweep.js"],
      ["src/results/x.ts", "../sweep/plan.js"],
    ];
    for (const [file, from] of cases) {
      const rules = await rulesFor(file, `import type { X } from "${from}";\nexport type Y = X;\n`);
      assert.ok(rules.includes(IMPORTS), `${file} importing ${from}: ${rules.join(", ")}`);
    }
    assert.deepEqual(
      await rulesFor("src/sweep/x.ts", 'import type { X } from "../run/execute.js";\nexport type Y = X;\n'),
      [],
    );
  });

  it("a workload imports only src/api.ts", async () => {
    for (const from of ["../src/db/session.js", "pg", "node:fs"]) {
      const rules = await rulesFor("workloads/x.ts", `import { x } from "${from}";\nexport const y = x;\n`);
      assert.ok(rules.includes(IMPORTS), `a workload importing ${from}: ${rules.join(", ")}`);
    }
    assert.deepEqual(
      await rulesFor(
        "workloads/x.ts",
        'import { defineWorkload } from "../src/api.js";\nexport const y = defineWorkload;\n',
      ),
      [],
    );
  });

  it("no function in src/ or bench/ is longer than 120 lines (blank lines and comments not counted)", async () => {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  x += ${i};\n  // why\n\n`).join("");
    // Signature, declaration, return and brace: 4 lines besides the body; 116 + 4 = 120 fits, 119 + 4 does not.
    const long = `export function f(): number {\n  let x = 0;\n${body(119)}  return x;\n}\n`;
    assert.ok((await rulesFor("src/x.ts", long)).includes("max-lines-per-function"));
    assert.ok((await rulesFor("bench/x.ts", long)).includes("max-lines-per-function"));
    const fits = `export function f(): number {\n  let x = 0;\n${body(116)}  return x;\n}\n`;
    assert.deepEqual(await rulesFor("src/x.ts", fits), []);
  });
});
