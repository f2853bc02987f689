import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

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
