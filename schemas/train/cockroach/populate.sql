-- The seed's events of nested JSON, the same number in each variant, all PENDING. The payload expression
-- is the one the workload's add transaction uses (PAYLOAD_SQL in workloads/train.ts), evaluated per row g.
-- step: {{events}} events in each of the 3 variants
INSERT INTO train_events_jsonb (payload)
SELECT {{payload}} FROM generate_series(1, {{events}}) AS g;
INSERT INTO train_events_jsonb_manual (payload, event_type, authority_id, train_id)
SELECT p, (p ->> 'eventType')::train_event_type, p ->> 'authorityId', p -> 'train' ->> 'trainId'
FROM (SELECT {{payload}} AS p FROM generate_series(1, {{events}}) AS g) AS x;
INSERT INTO train_events_text (payload)
SELECT ({{payload}})::STRING FROM generate_series(1, {{events}}) AS g;
-- step: PENDING statuses
INSERT INTO train_events_jsonb_status (event_id, status) SELECT id, 'PENDING' FROM train_events_jsonb;
INSERT INTO train_events_jsonb_manual_status (event_id, status) SELECT id, 'PENDING' FROM train_events_jsonb_manual;
INSERT INTO train_events_text_status (event_id, status) SELECT id, 'PENDING' FROM train_events_text;
-- step: statistics
CREATE STATISTICS train_events_jsonb_stats FROM train_events_jsonb;
CREATE STATISTICS train_events_jsonb_manual_stats FROM train_events_jsonb_manual;
CREATE STATISTICS train_events_text_stats FROM train_events_text;
