import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pg from "pg";
import type { Dialect, InitSpec, Knobs, Workload } from "../api.js";
import { clientConfig, dialectOf, findPassword } from "../db/connect.js";
import { redactUri } from "../db/uri.js";
import { UsageError } from "../errors.js";

const SCHEMAS_DIR = fileURLToPath(new URL("../../../schemas/", import.meta.url));

export interface InitOptions {
  uri: string;
  scale: number;
  drop: boolean;
  log(line: string): void;
  /** Ctrl-C: the statement running on the server is cancelled, so that its rollback starts at once. */
  interrupt?: AbortSignal;
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

/** What the database holds of a workload: nothing, what an interrupted init left, or a usable set of tables. */
export type InitState = "absent" | "interrupted" | "ready";

/** Written last by `init` as the comment of the workload's first table: an init that stopped before has none. */
const MARK = "dcpbench init complete";

/** The comment of the workload's first table in the current schema; undefined: no such table. */
async function markOf(client: pg.Client, spec: InitSpec): Promise<{ mark: string | null } | undefined> {
  const { rows } = await client.query<{ mark: string | null }>(
    `SELECT obj_description(c.oid, 'pg_class') AS mark FROM pg_catalog.pg_class c
      WHERE c.relname = $1 AND c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = current_schema())`,
    [spec.tables[0]],
  );
  return rows[0];
}

async function initState(client: pg.Client, spec: InitSpec): Promise<InitState> {
  const table = spec.tables[0];
  const found = await markOf(client, spec);
  if (!found) return "absent";
  if (found.mark?.startsWith(MARK)) return "ready";
  // No mark: tables filled by other means (pgbench -i for tpcb) or by an older dcpbench count as ready.
  const filled = await client.query(`SELECT 1 FROM ${table} LIMIT 1`);
  return filled.rowCount ? "ready" : "interrupted";
}

/** What the workload's cycles do to its tables with these knobs, that a later run would notice (see InitSpec). */
export function cyclesChangeData(workload: Workload, knobs: Knobs): string | undefined {
  const says = workload.init?.cyclesChangeData;
  return typeof says === "function" ? says(knobs) : says;
}

/** The scale the workload's tables were initialised at, from the completion mark; undefined when unknown. */
export async function initScale(workload: Workload, uri: string): Promise<number | undefined> {
  if (!workload.init) return undefined;
  const client = await connectFor(uri, "dcpbench-init");
  try {
    const mark = (await markOf(client, workload.init))?.mark ?? "";
    const scale = Number(/ scale (\S+) /.exec(mark)?.[1]);
    return mark.startsWith(MARK) && scale > 0 ? scale : undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

async function connectFor(uri: string, appName: string): Promise<pg.Client> {
  const client = new pg.Client(
    clientConfig({ uri, appName, connectTimeoutMs: 10_000 }, await findPassword(uri)),
  );
  client.on("error", () => {});
  await client.connect();
  return client;
}

/**
 * Before a run: refuses, with the `init` to run, a workload whose tables are missing or were left empty by an
 * interrupted init. A server it cannot reach is left to the run's own probe to report.
 */
export async function requireInitialised(workload: Workload, uri: string): Promise<void> {
  if (!workload.init) return;
  let client: pg.Client;
  try {
    client = await connectFor(uri, "dcpbench-check");
  } catch {
    return;
  }
  try {
    const state = await initState(client, workload.init);
    const init = `dcpbench init ${workload.name} --uri ${redactUri(uri)}`;
    if (state === "absent")
      throw new UsageError(
        `workload ${workload.name} is not initialised here (no table ${workload.init.tables[0]}): run '${init}' first`,
      );
    if (state === "interrupted")
      throw new UsageError(
        `workload ${workload.name} was left half-initialised here (an init was interrupted): run '${init}' again`,
      );
  } finally {
    await client.end().catch(() => {});
  }
}

/** The workload's SQL steps: schema.sql as one, then populate.sql's steps. */
function initSteps(
  workload: Workload,
  dialect: Dialect,
  scale: number,
): Array<{ label: string; sql: string }> {
  const vars = workload.init!.vars(scale, dialect);
  return (["schema.sql", "populate.sql"] as const).flatMap((name) => {
    const file = schemaFile(workload.name, dialect, name);
    if (!existsSync(file)) throw new Error(`missing ${file}`);
    const sql = substitute(readFileSync(file, "utf8"), vars, file);
    return name === "schema.sql" ? [{ label: "schema", sql }] : splitSteps(sql);
  });
}

/** VACUUM cannot run in a transaction block: such steps run after the commit. */
const outsideTransaction = (step: { sql: string }) => /^\s*VACUUM\b/i.test(step.sql);

/**
 * `dcpbench init`: the workload's schema for the detected dialect, then its population, with progress. On
 * PostgreSQL it all happens in one transaction (an interrupted init leaves nothing); on CockroachDB, whose
 * schema changes do not mix with large transactions, step by step. Either way the completion mark is
 * written last. Tables an interrupted init left are recreated without --drop.
 */
export async function initWorkload(
  workload: Workload,
  opts: InitOptions,
): Promise<{ dialect: Dialect; seconds: number }> {
  const spec = workload.init;
  if (!spec) throw new UsageError(`workload ${workload.name} has no schema to initialise`);
  const scaleError = spec.checkScale?.(opts.scale);
  if (scaleError) throw new UsageError(`--scale: ${scaleError}`);
  const client = await connectFor(opts.uri, "dcpbench-init");
  const started = Date.now();
  const cancel = () => void cancelBackend(opts.uri, client);
  opts.interrupt?.addEventListener("abort", cancel);
  try {
    const dialect = dialectOf((await client.query<{ v: string }>("SELECT version() AS v")).rows[0].v);
    const state = await initState(client, spec);
    if (state === "ready" && !opts.drop) {
      throw new UsageError(
        `workload ${workload.name} is already initialised here (table ${spec.tables[0]} exists); add --drop to recreate it`,
      );
    }
    if (state === "interrupted") opts.log(`found tables left by an interrupted init: recreating them`);
    const steps = initSteps(workload, dialect, opts.scale);
    const atomic = dialect === "postgres";
    if (atomic) await client.query("BEGIN");
    if (state !== "absent") {
      opts.log(`dropping ${spec.tables.join(", ")}`);
      for (const t of spec.tables) await client.query(`DROP TABLE IF EXISTS ${t} CASCADE`);
      for (const t of spec.types ?? []) await client.query(`DROP TYPE IF EXISTS ${t}`);
    }
    const later = atomic ? steps.filter(outsideTransaction) : [];
    for (const [i, step] of steps.entries()) {
      if (later.includes(step)) continue;
      await runStep(client, step, `${i + 1}/${steps.length}`, opts.log);
    }
    if (atomic) await client.query("COMMIT");
    for (const step of later)
      await runStep(client, step, `${steps.indexOf(step) + 1}/${steps.length}`, opts.log);
    const mark = `${MARK}: ${workload.name} scale ${opts.scale} at ${new Date().toISOString()}`;
    await client.query(`COMMENT ON TABLE ${spec.tables[0]} IS '${mark}'`);
    return { dialect, seconds: (Date.now() - started) / 1000 };
  } finally {
    opts.interrupt?.removeEventListener("abort", cancel);
    await client.end().catch(() => {});
  }
}

/** Cancels what `client`'s backend is running, from a connection of its own (as psql's Ctrl-C does). */
async function cancelBackend(uri: string, client: pg.Client): Promise<void> {
  const pid = (client as unknown as { processID?: number }).processID;
  if (!pid) return;
  const other = await connectFor(uri, "dcpbench-init-cancel").catch(() => undefined);
  await other?.query("SELECT pg_cancel_backend($1)", [pid]).catch(() => {});
  await other?.end().catch(() => {});
}

async function runStep(
  client: pg.Client,
  step: { label: string; sql: string },
  at: string,
  log: (line: string) => void,
): Promise<void> {
  const t = Date.now();
  log(`[${at}] ${step.label} …`);
  await client.query(step.sql);
  log(`[${at}] ${step.label} done in ${((Date.now() - t) / 1000).toFixed(1)}s`);
}
