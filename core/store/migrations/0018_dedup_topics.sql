-- Taxonomy topics of an indexed item: a repeat names the same topic, a
-- customer's second, different problem usually another (issue 9).
ALTER TABLE dedup_entries ADD COLUMN topics text[] NOT NULL DEFAULT '{}';
