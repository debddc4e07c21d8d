-- The SLA clock (tingjian sla watch): each warning and breach of a ticket,
-- recorded once (the unique key), with its event in the same transaction, and
-- an outbox for the notification topic (notified_at set after Kafka acked).
-- Owner: crm.
CREATE TABLE sla_marks (
    id          bigserial   PRIMARY KEY,
    ticket_id   bigint      NOT NULL REFERENCES tickets (id),
    clock       text        NOT NULL CHECK (clock IN ('acknowledge', 'first_response', 'resolve', 'update')),
    mark        text        NOT NULL CHECK (mark IN ('warning', 'breach')),
    period      integer     NOT NULL DEFAULT 0,
    due_at      timestamptz NOT NULL,
    marked_at   timestamptz NOT NULL DEFAULT now(),
    notified_at timestamptz,
    UNIQUE (ticket_id, clock, mark, period)
);
CREATE INDEX sla_marks_unnotified ON sla_marks (id) WHERE notified_at IS NULL;
CREATE INDEX tickets_open ON tickets (id) WHERE state NOT IN ('已完成', '已归档');
