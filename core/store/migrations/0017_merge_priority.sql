-- Undoing a merge restores the priority the merge raised (issue 9): every
-- stored item keeps the priority and SLA deadlines it was triaged with, and a
-- merged item the ticket's priority and deadlines right before it merged.
-- `seq` orders the items of a ticket as they were stored (a batch stores many
-- in one transaction, with one stored_at). Owner: sinks/crm; read by crm.
ALTER TABLE ticket_feedback ADD COLUMN seq bigserial;
ALTER TABLE ticket_feedback ADD COLUMN priority text;
ALTER TABLE ticket_feedback ADD COLUMN ack_due_at timestamptz;
ALTER TABLE ticket_feedback ADD COLUMN first_response_due_at timestamptz;
ALTER TABLE ticket_feedback ADD COLUMN resolve_due_at timestamptz;
ALTER TABLE ticket_feedback ADD COLUMN priority_before text;
ALTER TABLE ticket_feedback ADD COLUMN ack_due_before timestamptz;
ALTER TABLE ticket_feedback ADD COLUMN first_response_due_before timestamptz;
ALTER TABLE ticket_feedback ADD COLUMN resolve_due_before timestamptz;
