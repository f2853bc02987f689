-- train-events (seed 002): one logical table in three variants, to compare JSONB with TEXT payloads.
--   jsonb:        JSONB payload; event_type, authority_id, train_id are generated stored columns
--                 extracted from it (text: PostgreSQL casts to an enum are not immutable), and a
--                 GIN index covers the whole payload. That is what makes it slow; the point is the comparison.
--   jsonb_manual: JSONB payload; the three columns are written by the app; b-tree indexes only.
--   text:         the payload as TEXT; the three columns generated from it parsed as JSON (payload::jsonb),
--                 as the seed's are; b-tree indexes only.
-- Indexes as the seed's: (event_type, created_at DESC) and authority_id on each variant, GIN on jsonb's payload.
-- Each variant has a status table (event_id → PENDING/PROCESSING/COMPLETE/FAILED) and an archive.
CREATE TYPE train_event_type AS ENUM ('ROUTE_AUTHORIZATION', 'SIGNAL_CLEAR', 'SPEED_RESTRICTION', 'TRACK_OUT_OF_SERVICE', 'TRAIN_POSITION_UPDATE', 'SWITCH_POSITION_CHANGE', 'WORK_ZONE_PROTECTION', 'CROSSING_FAILURE', 'POWER_OUTAGE', 'DISPATCH_NOTE');

CREATE TABLE train_events_jsonb (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  payload jsonb NOT NULL,
  event_type text GENERATED ALWAYS AS (payload ->> 'eventType') STORED,
  authority_id text GENERATED ALWAYS AS (payload ->> 'authorityId') STORED,
  train_id text GENERATED ALWAYS AS (payload -> 'train' ->> 'trainId') STORED,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX train_events_jsonb_payload ON train_events_jsonb USING GIN (payload);
CREATE INDEX train_events_jsonb_event_type_created ON train_events_jsonb (event_type, created_at DESC);
CREATE INDEX train_events_jsonb_authority_id ON train_events_jsonb (authority_id);
CREATE TABLE train_events_jsonb_status (
  event_id uuid PRIMARY KEY REFERENCES train_events_jsonb (id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETE', 'FAILED')),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX train_events_jsonb_status_status_updated ON train_events_jsonb_status (status, updated_at);
CREATE TABLE train_events_jsonb_archive (
  id uuid PRIMARY KEY,
  payload jsonb NOT NULL,
  event_type text,
  authority_id text,
  train_id text,
  created_at timestamptz NOT NULL,
  archived_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE train_events_jsonb_manual (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  payload jsonb NOT NULL,
  event_type train_event_type NOT NULL,
  authority_id text NOT NULL,
  train_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX train_events_jsonb_manual_event_type_created ON train_events_jsonb_manual (event_type, created_at DESC);
CREATE INDEX train_events_jsonb_manual_authority_id ON train_events_jsonb_manual (authority_id);
CREATE TABLE train_events_jsonb_manual_status (
  event_id uuid PRIMARY KEY REFERENCES train_events_jsonb_manual (id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETE', 'FAILED')),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX train_events_jsonb_manual_status_status_updated ON train_events_jsonb_manual_status (status, updated_at);
CREATE TABLE train_events_jsonb_manual_archive (
  id uuid PRIMARY KEY,
  payload jsonb NOT NULL,
  event_type train_event_type,
  authority_id text,
  train_id text,
  created_at timestamptz NOT NULL,
  archived_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE train_events_text (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  payload text NOT NULL,
  event_type text GENERATED ALWAYS AS ((payload::jsonb) ->> 'eventType') STORED,
  authority_id text GENERATED ALWAYS AS ((payload::jsonb) ->> 'authorityId') STORED,
  train_id text GENERATED ALWAYS AS ((payload::jsonb) -> 'train' ->> 'trainId') STORED,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX train_events_text_event_type_created ON train_events_text (event_type, created_at DESC);
CREATE INDEX train_events_text_authority_id ON train_events_text (authority_id);
CREATE TABLE train_events_text_status (
  event_id uuid PRIMARY KEY REFERENCES train_events_text (id) ON DELETE CASCADE,
  status text NOT NULL CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETE', 'FAILED')),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX train_events_text_status_status_updated ON train_events_text_status (status, updated_at);
CREATE TABLE train_events_text_archive (
  id uuid PRIMARY KEY,
  payload text NOT NULL,
  event_type text,
  authority_id text,
  train_id text,
  created_at timestamptz NOT NULL,
  archived_at timestamptz NOT NULL DEFAULT now()
);
