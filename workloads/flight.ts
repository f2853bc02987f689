import {
  defineWorkload,
  skipped,
  type ClientContext,
  type Knobs,
  type Op,
  type Session,
} from "../src/api.js";

/**
 * flight-schedules (seed 002): a cycle waits `delay` ms × U(0.75, 1.25), then runs schedule, status,
 * inventory and price, each with its probability. Each op is the seed's two autocommit statements, both timed:
 * a read of `batch_size` flight ids in key order at a random offset within the first tenth of the table (its
 * estimated row count, read per op: pg_class.reltuples on PostgreSQL; on CockroachDB a follower read with
 * crdb_internal.table_row_statistics), then one UPDATE of those ids. Contiguous ids in a hot tenth: concurrent
 * clients overlap and wait on each other's row locks, as in the seed.
 *
 * `lookup_freq` (default 0, so the seed's mix is unchanged) adds the seed document's third pattern, a schedule
 * lookup: one route's departures in a `lookup_window`-minute window starting anywhere in the 7 days init populated,
 * with their status, read through a cursor (pg-cursor) `page_size` rows per round trip. The schema indexes flights
 * by route only (an index on departure would make the schedule updates non-HOT), so the window is a filter.
 *
 * `pick=uniform` draws the ids client-side instead (ids are dense, 1…max(id), read once per client) and runs the
 * UPDATE alone: no read, no hot tenth, hardly any lock waits. It measures the updates without the seed's scan.
 */

const UPDATES = {
  // Both shifts drawn per row and independently, ±5–60 minutes, as the seed's CASE/random() pairs do.
  schedule:
    "UPDATE flights SET departure = departure + (CASE WHEN random() < 0.5 THEN 1 ELSE -1 END) * " +
    "(floor(random() * 56) + 5)::int * INTERVAL '1 minute', arrival = arrival + (CASE WHEN random() < 0.5 " +
    "THEN 1 ELSE -1 END) * (floor(random() * 56) + 5)::int * INTERVAL '1 minute', updated_at = now() " +
    "WHERE id = ANY($1::bigint[])",
  status:
    "UPDATE flight_status SET status = (ARRAY['on_time', 'delayed', 'cancelled'])[1 + floor(random() * 3)::int], " +
    "updated_at = now() WHERE flight_id = ANY($1::bigint[])",
  inventory:
    "UPDATE seat_inventory SET seats_available = greatest(0, round(seats_available::float8 * " +
    "(1 + (random() - 0.25) / 10)))::int, updated_at = now() WHERE flight_id = ANY($1::bigint[])",
  price:
    "UPDATE flight_prices SET price = round(price * ((1 + (random() - 0.5) / 10)::numeric), 2), " +
    "updated_at = now() WHERE flight_id = ANY($1::bigint[])",
} as const;
type OpName = keyof typeof UPDATES;

/** The seed's id read, per dialect: `batch_size` ids in key order from a random offset in the first tenth. */
const SEED_READ = {
  postgres:
    "SELECT id FROM flights ORDER BY id OFFSET floor(random() * (SELECT greatest(reltuples, 0) / 10 " +
    "FROM pg_catalog.pg_class WHERE oid = 'flights'::regclass))::int LIMIT $1",
  cockroach:
    "SELECT id FROM flights AS OF SYSTEM TIME follower_read_timestamp() OFFSET floor(random() * (" +
    "SELECT (estimated_row_count / 10)::FLOAT FROM crdb_internal.table_row_statistics " +
    "WHERE table_name = 'flights'))::INT LIMIT $1",
} as const;

const COCKROACH_ROW_ESTIMATE =
  "SELECT estimated_row_count AS n FROM crdb_internal.table_row_statistics WHERE table_name = 'flights'";
const COCKROACH_FOLLOWER_READ =
  "SELECT id FROM flights AS OF SYSTEM TIME follower_read_timestamp() LIMIT $1 OFFSET $2";

/** One route (origin ≠ destination, as init pairs them) and a window, read page by page. */
const LOOKUP =
  "SELECT f.id, f.flight_number, f.departure, f.arrival, s.status, s.gate FROM flights AS f " +
  "JOIN flight_status AS s ON s.flight_id = f.id WHERE f.origin_id = $1 AND f.destination_id = $2 " +
  "AND f.departure >= $3::timestamptz AND f.departure < $3::timestamptz + make_interval(mins => $4::int) " +
  "ORDER BY f.departure";
/** init's departures: flight i leaves (i × 7919) mod 10080 minutes after the hour of init (populate.sql). */
const FIRST_DEPARTURE = "SELECT departure FROM flights ORDER BY id LIMIT 1";
const FIRST_DEPARTURE_MIN = 7919;
const SCHEDULE_SPAN_MIN = 7 * 24 * 60;
const AIRPORTS = 20;

function lookup(ctx: ClientContext<Knobs>): Op {
  const origin = ctx.randomInt(1, AIRPORTS);
  const destination = 1 + ((origin + ctx.randomInt(0, AIRPORTS - 2)) % AIRPORTS);
  const window = ctx.knobs.lookup_window as number;
  const offsetMin = ctx.randomInt(0, Math.max(0, SCHEDULE_SPAN_MIN - window));
  const from = new Date((ctx.state.scheduleStart as number) + offsetMin * 60_000).toISOString();
  return {
    name: "lookup",
    run: (session) =>
      session.readPages(LOOKUP, [origin, destination, from, window], ctx.knobs.page_size as number),
  };
}

async function pickIds(session: Session, ctx: ClientContext<Knobs>, batch: number): Promise<number[]> {
  if (ctx.knobs.pick === "seed") {
    const { rows } = await session.query<{ id: string }>(SEED_READ[ctx.dialect], [batch]);
    return rows.map((r) => Number(r.id));
  }
  const n = ctx.state.flights as number;
  if (ctx.dialect === "cockroach") {
    const offset = ctx.randomInt(0, Math.max(0, n - batch));
    const { rows } = await session.query<{ id: string }>(COCKROACH_FOLLOWER_READ, [batch, offset]);
    return rows.map((r) => Number(r.id));
  }
  return Array.from({ length: batch }, () => ctx.randomInt(1, n));
}

export default defineWorkload({
  name: "flight",
  description: "flight-schedules (seed 002): batched updates of schedule, status, seat inventory and prices",
  opNames: () => ["schedule", "status", "inventory", "price", "lookup"],
  knobs: {
    schedule_freq: {
      default: 10,
      min: 0,
      max: 100,
      description: "% of cycles that shift departure/arrival times",
    },
    status_freq: { default: 90, min: 0, max: 100, description: "% of cycles that update flight status" },
    inventory_freq: { default: 75, min: 0, max: 100, description: "% of cycles that update seat inventory" },
    price_freq: { default: 25, min: 0, max: 100, description: "% of cycles that update prices" },
    batch_size: { default: 64, min: 1, max: 10_000, description: "flights updated per statement" },
    pick: {
      default: "seed",
      choices: ["seed", "uniform"],
      description:
        "seed: read the ids first (key order, a random offset in the first tenth), as the seed; uniform: random ids drawn client-side, no read",
    },
    lookup_freq: {
      default: 0,
      min: 0,
      max: 100,
      description:
        "% of cycles that end with a schedule lookup (a route's departures in a window, via a cursor)",
    },
    lookup_window: { default: 60, min: 1, max: 10_080, description: "minutes of departures a lookup reads" },
    page_size: { default: 10, min: 1, max: 10_000, description: "rows per cursor page of a lookup" },
    delay: { default: 100, min: 0, description: "ms to wait before each cycle (× U(0.75, 1.25))" },
  },
  init: {
    tables: ["flights", "flight_status", "seat_inventory", "flight_prices", "planes", "airports", "airlines"],
    vars: (scale) => ({ flights: Math.max(1000, Math.round(1_000_000 * scale)) }),
  },
  async setup(session, ctx) {
    const sql = ctx.dialect === "cockroach" ? COCKROACH_ROW_ESTIMATE : "SELECT max(id) AS n FROM flights";
    const { rows } = await session.query<{ n: string | null }>(sql);
    const n = Number(rows[0]?.n ?? 0);
    if (!(n > 0)) throw new Error("no flights: run 'dcpbench init flight' first");
    ctx.state.flights = n;
    if (ctx.knobs.lookup_freq > 0) {
      const first = await session.query<{ departure: Date | string }>(FIRST_DEPARTURE);
      ctx.state.scheduleStart = new Date(first.rows[0]!.departure).getTime() - FIRST_DEPARTURE_MIN * 60_000;
    }
  },
  think: (ctx) => ctx.knobs.delay * (0.75 + ctx.random() * 0.5),
  cycle(ctx) {
    const freq: Record<OpName, number> = {
      schedule: ctx.knobs.schedule_freq,
      status: ctx.knobs.status_freq,
      inventory: ctx.knobs.inventory_freq,
      price: ctx.knobs.price_freq,
    };
    const ops = (Object.keys(UPDATES) as OpName[]).map((name): Op => {
      if (!ctx.chance(freq[name])) return skipped(name);
      return {
        name,
        async run(session) {
          const ids = await pickIds(session, ctx, ctx.knobs.batch_size);
          return session.query(UPDATES[name], [ids]);
        },
      };
    });
    // Only when asked for: a roll per cycle would change the random sequence of the seed's mix.
    if (ctx.knobs.lookup_freq > 0)
      ops.push(ctx.chance(ctx.knobs.lookup_freq) ? lookup(ctx) : skipped("lookup"));
    return ops;
  },
});
