-- Labels of triage heads beyond type, priority and sentiment (triage/heads/):
-- a new head needs no new column. Owner: sinks/crm.
ALTER TABLE tickets ADD COLUMN head_labels jsonb NOT NULL DEFAULT '{}';
