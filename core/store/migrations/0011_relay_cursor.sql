-- How far the SLA clock has relayed ticket_events to crm.notifications
-- (ticket created, state changed, notes...): moved only after Kafka acked.
-- Owner: crm.
CREATE TABLE relay_cursors (
    name    text   PRIMARY KEY,
    last_id bigint NOT NULL
);
