import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pg from "pg";
import type { Dialect, Workload } from "../api.js";
import { clientConfig, dialectOf, findPassword } from "../db/connect.js";
import { UsageError } from "../errors.js";

const SCHEMAS_DIR = fileURLToPath(new URL("../../../schemas/", import.meta.url));

export interface InitOptions {
  uri: string;
  scale: number;
  drop: boolean;
  log(line: string): void;
}

/** Replaces every {{name}} with vars[name]; a missing one is a bug in the workload, not user input. */
export function substitute(sql: string, vars: Record<string, string | number>, file: string): string {
  return sql.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    if (!(name in vars)) throw new Error(`${file}: no value for {{${name}}}`);
    return String(vars[name]);
  });
}

/** populate.sql split on its `-- step: label` lines; each step runs as one (multi-statement) query. */
export function splitSteps(sql: string): Array<{ label: string; sql: string }> {
  const steps: Array<{ label: string; sql: string }> = [];
  for (const chunk of sql.split(/^-- step: /m).slice(1)) {
    const nl = chunk.indexOf("\n");
    steps.push({ label: chunk.slice(0, nl).trim(), sql: chunk.slice(nl + 1).trim() });
  }
  return steps;
}

export function schemaFile(workload: string, dialect: Dialect, name: "schema.sql" | "populate.sql"): string {
  return `${SCHEMAS_DIR}${workload}/${dialect}/${name}`;
}

/** `dcpbench init`: the workload's schema for the detected dialect, then its population, with progress. */
export async function initWorkload(
  workload: Workload,
  opts: InitOptions,
): Promise<{ dialect: Dialect; seconds: number }> {
  const spec = workload.init;
  if (!spec) throw new UsageError(`workload ${workload.name} has no schema to initialise`);
  const scaleError = spec.checkScale?.(opts.scale);
  if (scaleError) throw new UsageError(`--scale: ${scaleError}`);
  const client = new pg.Client(
    clientConfig(
      { uri: opts.uri, appName: "dcpbench-init", connectTimeoutMs: 10_000 },
      await findPassword(opts.uri),
    ),
  );
  await client.connect();
  const started = Date.now();
  try {
    const dialect = dialectOf((await client.query<{ v: string }>("SELECT version() AS v")).rows[0].v);
    const exists = await client.query(
      "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1",
      [spec.tables[0]],
    );
    if (exists.rowCount && !opts.drop) {
      throw new UsageError(
        `workload ${workload.name} is already initialised here (table ${spec.tables[0]} exists); add --drop to recreate it`,
      );
    }
    if (opts.drop) {
      opts.log(`dropping ${spec.tables.join(", ")}`);
      for (const t of spec.tables) await client.query(`DROP TABLE IF EXISTS ${t} CASCADE`);
      for (const t of spec.types ?? []) await client.query(`DROP TYPE IF EXISTS ${t}`);
    }
    const vars = spec.vars(opts.scale, dialect);
    for (const name of ["schema.sql", "populate.sql"] as const) {
      const file = schemaFile(workload.name, dialect, name);
      if (!existsSync(file)) throw new Error(`missing ${file}`);
      const sql = substitute(readFileSync(file, "utf8"), vars, file);
      const steps = name === "schema.sql" ? [{ label: "schema", sql }] : splitSteps(sql);
      for (const [i, step] of steps.entries()) {
        const t = Date.now();
        opts.log(`[${i + 1}/${steps.length}] ${step.label} …`);
        await client.query(step.sql);
        opts.log(`[${i + 1}/${steps.length}] ${step.label} done in ${((Date.now() - t) / 1000).toFixed(1)}s`);
      }
    }
    return { dialect, seconds: (Date.now() - started) / 1000 };
  } finally {
    await client.end().catch(() => {});
  }
}
