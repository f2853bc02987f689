import { readFileSync } from "node:fs";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { UsageError } from "../../errors.js";

/** The schemas generated from src/schema's types (scripts/gen-schema.mjs), as the package ships them. */
const SCHEMAS = new URL("../../../../schemas/", import.meta.url);

type Kind = "result" | "sweep" | "compare";
/** Reading drops what the schema does not know; the strict check (for what dcpbench itself writes) refuses it. */
const READING = new Ajv({ removeAdditional: true, strict: false });
const STRICT = new Ajv({ strict: false });
const compiled = new Map<string, ValidateFunction>();

function validator(kind: Kind, ajv: Ajv): ValidateFunction {
  const key = `${kind}:${ajv === STRICT ? "strict" : "reading"}`;
  let v = compiled.get(key);
  if (!v) {
    const schema = JSON.parse(readFileSync(new URL(`${kind}.schema.json`, SCHEMAS), "utf8")) as object;
    v = ajv.compile(schema);
    compiled.set(key, v);
  }
  return v;
}

/** "summary.select1.errors: must have required property 'connection'" from ajv's first error. */
function fieldError(e: ErrorObject): string {
  const field = e.instancePath
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .join(".");
  // ajv's message for these names no value ("must be equal to one of the allowed values"): its params do.
  const extra = e.keyword === "enum" || e.keyword === "const" ? ` (${JSON.stringify(e.params)})` : "";
  return `${field || "the top level"}: ${e.message ?? e.keyword}${extra}`;
}

/**
 * Checks `data` against the result (or sweep index) schema and drops the fields the schema does not know, so
 * that nothing unknown is carried into what is written from it. Exit 2 naming the file and the field.
 */
export function checkShape<T>(data: unknown, path: string, kind: Kind): T {
  const v = validator(kind, READING);
  if (!v(data)) {
    const what = { result: "result file", sweep: "sweep index", compare: "comparison" }[kind];
    throw new UsageError(`${path} is not a valid ${what}: ${fieldError(v.errors![0])}`);
  }
  return data as T;
}

/** Where `data` departs from the schema, unknown fields included; undefined when it conforms. */
export function schemaError(data: unknown, kind: Kind): string | undefined {
  const v = validator(kind, STRICT);
  return v(data) ? undefined : fieldError(v.errors![0]);
}
