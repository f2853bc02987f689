-- train-events for CockroachDB: computed STORED columns and an INVERTED index instead of GIN.
-- Written from CockroachDB's documentation; reviewed by reading, not run here.
CREATE TYPE train_event_type AS ENUM ('ROUTE_AUTHORIZATION', 'SIGNAL_CLEAR', 'SPEED_RESTRICTION', 'TRACK_OUT_OF_SERVICE', 'TRAIN_POSITION_UPDATE', 'SWITCH_POSITION_CHANGE', 'WORK_ZONE_PROTECTION', 'CROSSING_FAILURE', 'POWER_OUTAGE', 'DISPATCH_NOTE');

CREATE TABLE train_events_jsonb (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  payload JSONB NOT NULL,
  event_type STRING AS (payload ->> 'eventType') STORED,
  authority_id STRING AS (payload ->> 'authorityId') STORED,
  train_id STRING AS (payload -> 'train' ->> 'trainId') STORED,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INVERTED INDEX train_events_jsonb_payload ON train_events_jsonb (payload);
CREATE INDEX train_events_jsonb_event_type_created ON train_events_jsonb (event_type, created_at DESC);
CREATE INDEX train_events_jsonb_authority_id ON train_events_jsonb (authority_id);
CREATE TABLE train_events_jsonb_status (
  event_id UUID PRIMARY KEY REFERENCES train_events_jsonb (id) ON DELETE CASCADE,
  status STRING NOT NULL CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETE', 'FAILED')),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX train_events_jsonb_status_status_updated ON train_events_jsonb_status (status, updated_at);
CREATE TABLE train_events_jsonb_archive (
  id UUID PRIMARY KEY,
  payload JSONB NOT NULL,
  event_type STRING,
  authority_id STRING,
  train_id STRING,
  created_at TIMESTAMPTZ NOT NULL,
  archived_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE train_events_jsonb_manual (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  payload JSONB NOT NULL,
  event_type train_event_type NOT NULL,
  authority_id STRING NOT NULL,
  train_id STRING NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX train_events_jsonb_manual_event_type_created ON train_events_jsonb_manual (event_type, created_at DESC);
CREATE INDEX train_events_jsonb_manual_authority_id ON train_events_jsonb_manual (authority_id);
CREATE TABLE train_events_jsonb_manual_status (
  event_id UUID PRIMARY KEY REFERENCES train_events_jsonb_manual (id) ON DELETE CASCADE,
  status STRING NOT NULL CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETE', 'FAILED')),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX train_events_jsonb_manual_status_status_updated ON train_events_jsonb_manual_status (status, updated_at);
CREATE TABLE train_events_jsonb_manual_archive (
  id UUID PRIMARY KEY,
  payload JSONB NOT NULL,
  event_type train_event_type,
  authority_id STRING,
  train_id STRING,
  created_at TIMESTAMPTZ NOT NULL,
  archived_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE train_events_text (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  payload STRING NOT NULL,
  event_type STRING AS ((payload::JSONB) ->> 'eventType') STORED,
  authority_id STRING AS ((payload::JSONB) ->> 'authorityId') STORED,
  train_id STRING AS ((payload::JSONB) -> 'train' ->> 'trainId') STORED,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX train_events_text_event_type_created ON train_events_text (event_type, created_at DESC);
CREATE INDEX train_events_text_authority_id ON train_events_text (authority_id);
CREATE TABLE train_events_text_status (
  event_id UUID PRIMARY KEY REFERENCES train_events_text (id) ON DELETE CASCADE,
  status STRING NOT NULL CHECK (status IN ('PENDING', 'PROCESSING', 'COMPLETE', 'FAILED')),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX train_events_text_status_status_updated ON train_events_text_status (status, updated_at);
CREATE TABLE train_events_text_archive (
  id UUID PRIMARY KEY,
  payload STRING NOT NULL,
  event_type STRING,
  authority_id STRING,
  train_id STRING,
  created_at TIMESTAMPTZ NOT NULL,
  archived_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
