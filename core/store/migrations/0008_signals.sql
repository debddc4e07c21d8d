-- The priority signals of SPEC §5 that fired for a ticket (triage/signals.py),
-- as "name:evidence" ("loss.money:扣了两次"), whether or not they changed the
-- priority: the data team and the reports read why a ticket is urgent. Owner: sinks/crm.
ALTER TABLE tickets ADD COLUMN signals text[] NOT NULL DEFAULT '{}';
