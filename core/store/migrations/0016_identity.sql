-- One customer across channels (issue 9). Every contact key seen in an item
-- (phone, email, platform:handle, a phone written in the text, and a name
-- only together with an order/waybill/contract number) points to the person
-- it was first seen with; keyed hashes only. Expires with the dedup window
-- (last_seen). Owner: triage.
CREATE TABLE identity_links (
    link_key   text        PRIMARY KEY,
    person_key text        NOT NULL,
    last_seen  timestamptz NOT NULL
);
CREATE INDEX identity_links_last_seen ON identity_links (last_seen);

-- Entities of an indexed item (hashed order/waybill/contract numbers, amounts,
-- model names): a reworded follow-up shares them.
ALTER TABLE dedup_entries ADD COLUMN entities text[] NOT NULL DEFAULT '{}';

-- Why an item was merged (the signals), so an agent can undo it; a repeat of
-- a closed ticket opens a new one related to it.
ALTER TABLE ticket_feedback ADD COLUMN merge_reasons text[] NOT NULL DEFAULT '{}';
ALTER TABLE tickets ADD COLUMN related_to bigint REFERENCES tickets (id);
