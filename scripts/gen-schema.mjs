// Writes the JSON Schemas of the result file, the sweep index and compare's JSON from their TypeScript types (src/schema/):
// the types are the one source; `npm run schema` after changing them, and the suite checks the files agree.
import { writeFileSync } from "node:fs";
import { fileURLToPath, URL } from "node:url";
import { createGenerator } from "ts-json-schema-generator";

const root = fileURLToPath(new URL("../", import.meta.url));

/** The schemas as files hold them: generated, with a versioned $id. */
export function generateSchemas() {
  const make = (path, type, id) => ({
    $id: id,
    ...createGenerator({
      path: `${root}${path}`,
      type,
      tsconfig: `${root}tsconfig.json`,
      skipTypeCheck: true,
    }).createSchema(type),
  });
  return {
    "schemas/result.schema.json": make("src/schema/result.ts", "ResultFile", "urn:dcpbench:result:1"),
    "schemas/sweep.schema.json": make("src/schema/sweep.ts", "SweepIndex", "urn:dcpbench:sweep:1"),
    "schemas/compare.schema.json": make("src/schema/compare.ts", "CompareFile", "urn:dcpbench:compare:1"),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [file, schema] of Object.entries(generateSchemas())) {
    writeFileSync(`${root}${file}`, JSON.stringify(schema, null, 2) + "\n");
    process.stderr.write(`wrote ${file}\n`);
  }
}
