-- Shadow mode (triage.shadow_version): a candidate runs beside the live model
-- without affecting tickets. Every compared item is kept once (what agreement
-- is a share of), every disagreeing head once more with both labels and
-- confidences. The ticket is named by its (channel, source_id) key: triage
-- runs before the sink has created it. A redelivered item changes nothing.
CREATE TABLE shadow_compared (
    shadow_version text        NOT NULL,
    live_version   text        NOT NULL,
    channel        text        NOT NULL,
    source_id      text        NOT NULL,
    at             timestamptz NOT NULL DEFAULT now(),
    live_labels    jsonb       NOT NULL,
    PRIMARY KEY (shadow_version, channel, source_id)
);

CREATE TABLE shadow_disagreements (
    id                bigserial   PRIMARY KEY,
    shadow_version    text        NOT NULL,
    live_version      text        NOT NULL,
    channel           text        NOT NULL,
    source_id         text        NOT NULL,
    at                timestamptz NOT NULL DEFAULT now(),
    head              text        NOT NULL,
    live_label        text        NOT NULL,
    live_confidence   real        NOT NULL,
    shadow_label      text        NOT NULL,
    shadow_confidence real        NOT NULL,
    UNIQUE (shadow_version, channel, source_id, head)
);
CREATE INDEX shadow_disagreements_ticket ON shadow_disagreements (channel, source_id);
