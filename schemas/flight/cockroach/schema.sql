-- flight-schedules (seed 002) for CockroachDB: the PostgreSQL schema with CockroachDB's types.
-- Written from CockroachDB's documentation; reviewed by reading, not run here (CockroachDB cannot be
-- installed on our machines).
CREATE TABLE airlines (
  id INT4 PRIMARY KEY,
  code STRING NOT NULL UNIQUE,
  name STRING NOT NULL
);
CREATE TABLE airports (
  id INT4 PRIMARY KEY,
  code STRING NOT NULL UNIQUE,
  city STRING NOT NULL
);
CREATE TABLE planes (
  id INT4 PRIMARY KEY,
  airline_id INT4 NOT NULL REFERENCES airlines (id),
  model STRING NOT NULL,
  seats INT4 NOT NULL
);
CREATE TABLE flights (
  id INT8 PRIMARY KEY,
  airline_id INT4 NOT NULL REFERENCES airlines (id),
  flight_number STRING NOT NULL,
  plane_id INT4 NOT NULL REFERENCES planes (id),
  origin_id INT4 NOT NULL REFERENCES airports (id),
  destination_id INT4 NOT NULL REFERENCES airports (id),
  departure TIMESTAMPTZ NOT NULL,
  arrival TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- By route only: an index on departure would make the seed's schedule updates (which move it) non-HOT.
CREATE INDEX flights_route ON flights (origin_id, destination_id);
CREATE TABLE flight_status (
  flight_id INT8 PRIMARY KEY REFERENCES flights (id),
  status STRING NOT NULL,
  gate STRING,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE seat_inventory (
  flight_id INT8 PRIMARY KEY REFERENCES flights (id),
  seats_available INT4 NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE flight_prices (
  flight_id INT8 PRIMARY KEY REFERENCES flights (id),
  price DECIMAL(10, 2) NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
