import { defineWorkload, type Session } from "../src/api.js";

/**
 * train-events (seed 002): ingestion, processing and archival of railway events, as three explicit
 * transactions per cycle, each retried on serialization failure by the harness. `payload` picks one of the
 * three variants of the same logical table (JSONB with generated columns and a GIN/inverted index, JSONB
 * with app-written columns, TEXT); comparing them is the point.
 */

const EVENT_TYPES = [
  "ROUTE_AUTHORIZATION",
  "SIGNAL_CLEAR",
  "SPEED_RESTRICTION",
  "TRACK_OUT_OF_SERVICE",
  "TRAIN_POSITION_UPDATE",
  "SWITCH_POSITION_CHANGE",
  "WORK_ZONE_PROTECTION",
  "CROSSING_FAILURE",
  "POWER_OUTAGE",
  "DISPATCH_NOTE",
];
const DIRECTIONS = ["NORTHBOUND", "SOUTHBOUND", "EASTBOUND", "WESTBOUND"];

const pick = (values: string[]) =>
  `(ARRAY[${values.map((v) => `'${v}'`).join(", ")}])[1 + floor(random() * ${values.length})::int]`;

/**
 * One event's nested JSON as the seed's generator builds it, key for key: event type, authority and device
 * uuids, state, a creation time in the last 21 days; route (3 segments of 3 track sections, 2 switches,
 * attributes, signal); metrics (flags, 4 circuit ids, confidence 0.5–1); train (id, limits, direction); meta.
 * Unlike the seed's, each subquery refers to its row (`0 * g`), so that every event gets its own segments,
 * switches and circuit ids: the seed's uncorrelated subqueries run once per statement, and give a batch's
 * events the same ones.
 */
export const PAYLOAD_SQL = `jsonb_build_object(
  'eventType', ${pick(EVENT_TYPES)},
  'authorityId', gen_random_uuid()::text,
  'deviceKey', gen_random_uuid()::text,
  'state', 'NEW',
  'createdAt', (clock_timestamp() - random() * INTERVAL '21 days')::text,
  'route', jsonb_build_object(
    'segments', (
      SELECT jsonb_agg(jsonb_build_object(
        'id', 1000 + floor(random() * 500)::int,
        'direction', ${pick(DIRECTIONS)},
        'trackSections', (SELECT jsonb_agg(2000 + floor(random() * 200)::int) FROM generate_series(1, 3 + 0 * s))))
      FROM generate_series(1, 3 + 0 * g) AS s),
    'switches', (
      SELECT jsonb_agg(jsonb_build_object('id', 3000 + floor(random() * 500)::int, 'position', ${pick(["NORMAL", "REVERSE"])}))
      FROM generate_series(1, 2 + 0 * g)),
    'attributes', jsonb_build_object('ALLOW_PASS', true, 'REQUIRES_ACK', false, 'SLOW_ORDER', false),
    'signalId', 9001),
  'metrics', jsonb_build_object(
    'flags', jsonb_build_object('onTrack', random() < 0.8, 'fleeted', random() < 0.2),
    'circuitIds', (SELECT jsonb_agg(7000 + floor(random() * 1000)::int) FROM generate_series(1, 4 + 0 * g)),
    'confidence', 0.5 + random() / 2),
  'train', jsonb_build_object(
    'trainId', 'RR-' || (1 + floor(random() * 99))::int || '-' || (10000 + floor(random() * 90000))::int || '-' ||
      to_char(current_date - floor(random() * 30)::int, 'YYYYMMDD'),
    'withinLimits', random() < 0.5,
    'direction', ${pick(DIRECTIONS)}),
  'meta', jsonb_build_object('userId', 'operator01', 'logicalPos', 'SYS01', 'sourceSystem', 'SIMULATOR'))`;

const VARIANTS = ["jsonb", "jsonb-manual", "text"] as const;
type Variant = (typeof VARIANTS)[number];

/** The statements of one variant: same shape, its own tables and payload type. */
function statements(variant: Variant) {
  const t = `train_events_${variant.replace("-", "_")}`;
  const columns = "p ->> 'eventType', p ->> 'authorityId', p -> 'train' ->> 'trainId'";
  const rows = `generate_series(1, $1::int) AS g`;
  // jsonb and text generate their three columns from the payload (as the seed's do); jsonb-manual writes them.
  const insert =
    variant === "jsonb-manual"
      ? `INSERT INTO ${t} (payload, event_type, authority_id, train_id) ` +
        `SELECT p, (p ->> 'eventType')::train_event_type, ${columns.split(", ").slice(1).join(", ")} ` +
        `FROM (SELECT ${PAYLOAD_SQL} AS p FROM ${rows}) AS x RETURNING id`
      : `INSERT INTO ${t} (payload) SELECT (${PAYLOAD_SQL})${variant === "text" ? "::text" : ""} FROM ${rows} RETURNING id`;
  // As the seed's process: a fresh fleeted flag and a new state.
  const edit = (p: string) =>
    `jsonb_set(jsonb_set(${p}, '{metrics,flags,fleeted}', to_jsonb(random() < 0.5)), '{state}', ` +
    `to_jsonb(${pick(["NEW", "QUEUED", "IN_PROGRESS", "APPLIED", "CANCELLED"])}))`;
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
