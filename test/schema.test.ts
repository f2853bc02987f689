import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { MERGE_RULES, type MergeRules } from "../src/results/merge.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

describe("the result contract as JSON Schema", () => {
  it("schemas/*.schema.json are what src/schema's types generate (npm run schema after changing them)", async () => {
    const { generateSchemas } = (await import(new URL("scripts/gen-schema.mjs", `file://${ROOT}`).href)) as {
      generateSchemas(): Record<string, object>;
    };
    for (const [file, schema] of Object.entries(generateSchemas())) {
      const committed = JSON.parse(readFileSync(`${ROOT}${file}`, "utf8")) as object;
      assert.deepEqual(committed, schema, `${file} is stale: run npm run schema`);
    }
  });
});

describe("merge builds every field of a result by a rule of its own", () => {
  it("a result field without a merge rule does not compile, and the rules cover the schema's fields", () => {
    const { window: _window, ...withoutOne } = MERGE_RULES;
    // @ts-expect-error: the optional field `window` has no rule here, and the type requires one per field.
    const incomplete: MergeRules = withoutOne;
    assert.equal(Object.keys(incomplete).length, Object.keys(MERGE_RULES).length - 1);
    const schema = JSON.parse(readFileSync(`${ROOT}schemas/result.schema.json`, "utf8")) as {
      definitions: { ResultFile: { properties: Record<string, unknown> } };
    };
    assert.deepEqual(
      Object.keys(MERGE_RULES).sort(),
      Object.keys(schema.definitions.ResultFile.properties).sort(),
    );
  });
});
