-- Set-based population: every table with one INSERT … SELECT over generate_series.
-- {{flights}} flights: flight i flies plane i mod 500 (of that plane's airline) between two different
-- airports, departing within the next 7 days (7919 is prime to 10080: a route's flights spread over the week).
-- step: airlines, airports, planes
INSERT INTO airlines (id, code, name)
SELECT i, (ARRAY['AA', 'DL', 'UA', 'WN', 'B6'])[i], (ARRAY['Aurora Air', 'Delta Line', 'Unity', 'Westwind', 'Blue Six'])[i]
FROM generate_series(1, 5) AS i;
INSERT INTO airports (id, code, city)
SELECT i, 'AP' || lpad(i::text, 2, '0'), 'City ' || i FROM generate_series(1, 20) AS i;
INSERT INTO planes (id, airline_id, model, seats)
SELECT i, 1 + (i - 1) % 5, (ARRAY['A320', 'B737', 'A321', 'B787', 'E175'])[1 + i % 5], 76 + (i % 5) * 50
FROM generate_series(1, 500) AS i;
-- step: {{flights}} flights
INSERT INTO flights (id, airline_id, flight_number, plane_id, origin_id, destination_id, departure, arrival)
SELECT i,
       1 + (p - 1) % 5,
       (ARRAY['AA', 'DL', 'UA', 'WN', 'B6'])[1 + (p - 1) % 5] || (1000 + i % 9000),
       p,
       o,
       1 + (o + i % 19) % 20,
       d,
       d + make_interval(mins => 60 + (i % 300))
FROM (
  SELECT i, 1 + i % 500 AS p, 1 + (i / 500) % 20 AS o,
         date_trunc('hour', now()) + make_interval(mins => ((i::bigint * 7919) % 10080)::int) AS d
  FROM generate_series(1, {{flights}}) AS i
) AS f;
-- step: flight_status, seat_inventory, flight_prices
INSERT INTO flight_status (flight_id, status, gate)
SELECT id, 'on_time', 'G' || (1 + id % 40) FROM flights;
INSERT INTO seat_inventory (flight_id, seats_available)
SELECT f.id, p.seats FROM flights AS f JOIN planes AS p ON p.id = f.plane_id;
INSERT INTO flight_prices (flight_id, price)
SELECT id, round((79 + (id % 400))::numeric, 2) FROM flights;
-- step: analyze
ANALYZE airlines, airports, planes, flights, flight_status, seat_inventory, flight_prices;
