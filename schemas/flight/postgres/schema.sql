-- flight-schedules (seed 002): airlines, airports, planes, flights, and one row per flight in each of
-- flight_status, seat_inventory and flight_prices.
CREATE TABLE airlines (
  id int PRIMARY KEY,
  code text NOT NULL UNIQUE,
  name text NOT NULL
);
CREATE TABLE airports (
  id int PRIMARY KEY,
  code text NOT NULL UNIQUE,
  city text NOT NULL
);
CREATE TABLE planes (
  id int PRIMARY KEY,
  airline_id int NOT NULL REFERENCES airlines (id),
  model text NOT NULL,
  seats int NOT NULL
);
CREATE TABLE flights (
  id bigint PRIMARY KEY,
  airline_id int NOT NULL REFERENCES airlines (id),
  flight_number text NOT NULL,
  plane_id int NOT NULL REFERENCES planes (id),
  origin_id int NOT NULL REFERENCES airports (id),
  destination_id int NOT NULL REFERENCES airports (id),
  departure timestamptz NOT NULL,
  arrival timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- By route only: an index on departure would make the seed's schedule updates (which move it) non-HOT.
CREATE INDEX flights_route ON flights (origin_id, destination_id);
CREATE TABLE flight_status (
  flight_id bigint PRIMARY KEY REFERENCES flights (id),
  status text NOT NULL,
  gate text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE seat_inventory (
  flight_id bigint PRIMARY KEY REFERENCES flights (id),
  seats_available int NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE flight_prices (
  flight_id bigint PRIMARY KEY REFERENCES flights (id),
  price numeric(10, 2) NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
