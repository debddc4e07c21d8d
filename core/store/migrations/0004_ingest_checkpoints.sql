-- Connector checkpoints (IMAP UIDVALIDITY/UID, social cursors, imported files)
-- and the keys of items already produced, moved together after Kafka acked.
CREATE TABLE ingest_checkpoints (
    connector   text        NOT NULL,
    key         text        NOT NULL,
    value       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connector, key)
);
CREATE TABLE ingest_seen (
    connector  text        NOT NULL,
    item_key   text        NOT NULL,
    seen_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connector, item_key)
);
