-- Triage's duplicate index (SPEC §9): one row per item seen, keyed by its
-- source, looked up by the customer's keyed hash. It lets dedup survive
-- restarts and gives a redelivered item the verdict it had the first time.
CREATE TABLE dedup_entries (
    source_key    text        PRIMARY KEY,
    customer_key  text        NOT NULL,
    root_key      text        NOT NULL,
    received_at   timestamptz NOT NULL,
    digest        text        NOT NULL,
    shingles      text[]      NOT NULL,
    type          text        NOT NULL,
    repeat_count  integer     NOT NULL DEFAULT 0,
    incident      boolean     NOT NULL DEFAULT false
);
CREATE INDEX dedup_entries_customer ON dedup_entries (customer_key, received_at);
