import { defineWorkload, type Session } from "../src/api.js";

/**
 * train-events (seed 002): ingestion, processing and archival of railway events, as three explicit
 * transactions per cycle, each retried on serialization failure by the harness. `payload` picks one of the
 * three variants of the same logical table (JSONB with generated columns and a GIN/inverted index, JSONB
 * with app-written columns, TEXT); comparing them is the point.
 */

const EVENT_TYPES = [
  "TRAIN_ARRIVAL",
  "TRAIN_DEPARTURE",
  "SIGNAL_CLEARANCE",
  "SWITCH_POSITION",
  "SPEED_RESTRICTION",
  "ROUTE_AUTHORITY",
  "POSITION_UPDATE",
  "TRACK_OCCUPANCY",
  "INFRASTRUCTURE_CONDITION",
  "MAINTENANCE_WINDOW",
];
const pick = (values: string[]) =>
  `(ARRAY[${values.map((v) => `'${v}'`).join(", ")}])[1 + floor(random() * ${values.length})::int]`;

/**
 * One event's nested JSON, built in SQL from row g of a generate_series: route segments with track
 * sections, switches and attributes; metrics flags, circuit ids and confidence; train id and direction; meta.
 * The segments subquery refers to g, so that it is evaluated per row.
 */
export const PAYLOAD_SQL = `jsonb_build_object(
  'event_type', ${pick(EVENT_TYPES)},
  'authority_id', 'AUTH-' || (1 + floor(random() * 50)::int)::text,
  'occurred_at', now(),
  'train', jsonb_build_object(
    'id', 'T' || lpad((1 + floor(random() * 500)::int)::text, 4, '0'),
    'direction', ${pick(["NORTHBOUND", "SOUTHBOUND"])}),
  'route', jsonb_build_object('segments', (
    SELECT jsonb_agg(jsonb_build_object(
      'segment_id', 'SEG-' || (g * 10 + s)::text,
      'track_sections', jsonb_build_array('TS-' || s::text || 'A', 'TS-' || s::text || 'B'),
      'switches', jsonb_build_array(jsonb_build_object('id', 'SW-' || s::text, 'position', ${pick(["NORMAL", "REVERSE"])})),
      'attributes', jsonb_build_object(
        'grade_pct', round((random() * 3)::numeric, 2),
        'max_speed_kph', 40 + floor(random() * 120)::int,
        'electrified', random() < 0.7)))
    FROM generate_series(1, 2 + g % 3) AS s)),
  'metrics', jsonb_build_object(
    'flags', jsonb_build_object('gps_lock', random() < 0.95, 'track_circuit_ok', random() < 0.98),
    'circuit_ids', jsonb_build_array('TC-' || floor(random() * 1000)::int::text, 'TC-' || floor(random() * 1000)::int::text),
    'confidence', round(random()::numeric, 3)),
  'meta', jsonb_build_object('source', 'dcpbench', 'schema_version', 1, 'seq', g))`;

const VARIANTS = ["jsonb", "jsonb-manual", "text"] as const;
type Variant = (typeof VARIANTS)[number];

/** The statements of one variant: same shape, its own tables and payload type. */
function statements(variant: Variant) {
  const t = `train_events_${variant.replace("-", "_")}`;
  const columns = "p ->> 'event_type', p ->> 'authority_id', p -> 'train' ->> 'id'";
  const rows = `generate_series(1, $1::int) AS g`;
  // jsonb and text generate their three columns from the payload (as the seed's do); jsonb-manual writes them.
  const insert =
    variant === "jsonb-manual"
      ? `INSERT INTO ${t} (payload, event_type, authority_id, train_id) ` +
        `SELECT p, (p ->> 'event_type')::train_event_type, ${columns.split(", ").slice(1).join(", ")} ` +
        `FROM (SELECT ${PAYLOAD_SQL} AS p FROM ${rows}) AS x RETURNING id`
      : `INSERT INTO ${t} (payload) SELECT (${PAYLOAD_SQL})${variant === "text" ? "::text" : ""} FROM ${rows} RETURNING id`;
  const edit = (p: string) =>
    `jsonb_set(jsonb_set(${p}, '{meta,processed_at}', to_jsonb(now())), '{metrics,confidence}', to_jsonb(round(random()::numeric, 3)))`;
  return {
    insert,
    insertStatus: `INSERT INTO ${t}_status (event_id, status) SELECT unnest($1::uuid[]), 'PENDING'`,
    lockActive:
      `SELECT event_id FROM ${t}_status WHERE status IN ('PENDING', 'PROCESSING') ` +
      `ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    setStatus:
      `UPDATE ${t}_status AS st SET status = x.status, updated_at = now() ` +
      `FROM unnest($1::uuid[], $2::text[]) AS x(id, status) WHERE st.event_id = x.id`,
    rewrite: `UPDATE ${t} SET payload = ${variant === "text" ? `${edit("payload::jsonb")}::text` : edit("payload")} WHERE id = ANY($1::uuid[])`,
    lockComplete: `SELECT event_id FROM ${t}_status WHERE status = 'COMPLETE' ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
    archive:
      `INSERT INTO ${t}_archive (id, payload, event_type, authority_id, train_id, created_at) ` +
      `SELECT id, payload, event_type, authority_id, train_id, created_at FROM ${t} WHERE id = ANY($1::uuid[])`,
    deleteStatus: `DELETE FROM ${t}_status WHERE event_id = ANY($1::uuid[])`,
    deleteEvents: `DELETE FROM ${t} WHERE id = ANY($1::uuid[])`,
  };
}
const SQL: Record<Variant, ReturnType<typeof statements>> = {
  jsonb: statements("jsonb"),
  "jsonb-manual": statements("jsonb-manual"),
  text: statements("text"),
};

const ids = (rows: Array<{ id?: string; event_id?: string }>) => rows.map((r) => (r.id ?? r.event_id)!);

/**
 * The next state of an event being processed, as the seed's CASE draws it: `WHEN random() < 0.6 THEN
 * 'PROCESSING' WHEN random() < 0.9 THEN 'COMPLETE' ELSE 'FAILED'` evaluates random() once per WHEN, so the
 * second draw is a fresh one: PROCESSING 60%, COMPLETE 36%, FAILED 4% (a tenth of the terminal transitions).
 */
function nextStatus(random: () => number): string {
  if (random() < 0.6) return "PROCESSING";
  return random() < 0.9 ? "COMPLETE" : "FAILED";
}

export default defineWorkload({
  name: "train",
  description: "train-events (seed 002): add / process / archive transactions on JSONB or TEXT payloads",
  opNames: () => ["add", "process", "archive"],
  knobs: {
    payload: {
      default: "jsonb",
      choices: VARIANTS,
      description: "table variant: jsonb | jsonb-manual | text",
    },
    min_batch_size: { default: 10, min: 1, description: "fewest events per transaction" },
    max_batch_size: { default: 100, min: 1, description: "most events per transaction" },
    delay: { default: 100, min: 0, description: "ms to wait before each cycle (× U(0.75, 1.25))" },
  },
  init: {
    tables: [
      "train_events_jsonb_status",
      "train_events_jsonb_manual_status",
      "train_events_text_status",
      "train_events_jsonb_archive",
      "train_events_jsonb_manual_archive",
      "train_events_text_archive",
      "train_events_jsonb",
      "train_events_jsonb_manual",
      "train_events_text",
    ],
    types: ["train_event_type"],
    vars: (scale) => ({ events: Math.max(100, Math.round(20_000 * scale)), payload: PAYLOAD_SQL }),
    cyclesChangeData:
      "its cycles add events, move them through their states and archive them: a later run finds more rows, in other states",
  },
  think: (ctx) => ctx.knobs.delay * (0.75 + ctx.random() * 0.5),
  cycle(ctx) {
    const sql = SQL[ctx.knobs.payload as Variant];
    const lo = Math.min(ctx.knobs.min_batch_size, ctx.knobs.max_batch_size);
    const batch = () => ctx.randomInt(lo, Math.max(lo, ctx.knobs.max_batch_size));
    const thinkInTxn = (s: Session) => s.sleep(ctx.randomInt(10, 50));
    return [
      {
        name: "add",
        run: (s) =>
          s.transaction(async (tx) => {
            const added = ids((await tx.query<{ id: string }>(sql.insert, [batch()])).rows);
            await thinkInTxn(tx);
            await tx.query(sql.insertStatus, [added]);
          }),
      },
      {
        name: "process",
        run: (s) =>
          s.transaction(async (tx) => {
            const locked = ids((await tx.query<{ event_id: string }>(sql.lockActive, [batch()])).rows);
            if (locked.length === 0) return;
            await tx.query(sql.setStatus, [locked, locked.map(() => nextStatus(() => ctx.random()))]);
            await thinkInTxn(tx);
            await tx.query(sql.rewrite, [locked]);
          }),
      },
      {
        name: "archive",
        run: (s) =>
          s.transaction(async (tx) => {
            const done = ids((await tx.query<{ event_id: string }>(sql.lockComplete, [batch()])).rows);
            if (done.length === 0) return;
            await tx.query(sql.archive, [done]);
            await thinkInTxn(tx);
            await tx.query(sql.deleteStatus, [done]);
            await tx.query(sql.deleteEvents, [done]);
          }),
      },
    ];
  },
});
