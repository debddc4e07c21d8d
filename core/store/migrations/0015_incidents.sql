-- Incidents as durable objects (SPEC §9, issue 9). The topic is keyed by
-- customer, so several triage workers see different customers of one burst:
-- the recent problem items live here (not in a worker's memory), found by
-- their MinHash bands, and survive restarts. Owner: triage; read by crm and
-- `tingjian incidents`.
CREATE TABLE incident_bursts (
    source_key   text        PRIMARY KEY,
    who          text        NOT NULL,  -- customer key (or source key when anonymous)
    received_at  timestamptz NOT NULL,
    bands        text[]      NOT NULL,
    shingles     text[]      NOT NULL,
    incident_key text
);
CREATE INDEX incident_bursts_bands ON incident_bursts USING gin (bands);
CREATE INDEX incident_bursts_time ON incident_bursts (received_at);

-- One row per incident: keyed by its first member, upserted by every worker
-- that sees a member (ON CONFLICT merges the member lists). `summary` is
-- masked (core/privacy.mask_text). `notified_at` NULL = an event the CRM
-- relay has not picked up yet.
CREATE TABLE incidents (
    incident_key text        PRIMARY KEY,
    first_seen   timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    member_keys  text[]      NOT NULL,
    member_count integer     NOT NULL,
    summary      text        NOT NULL,
    p1           boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    notified_at  timestamptz
);
CREATE INDEX incidents_last_seen ON incidents (last_seen);
