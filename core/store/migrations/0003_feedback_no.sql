-- The number a connector already gave the customer for an item that was then
-- merged into an earlier ticket: the customer can still quote it.
ALTER TABLE ticket_feedback ADD COLUMN feedback_no text;
CREATE UNIQUE INDEX ticket_feedback_feedback_no ON ticket_feedback (feedback_no) WHERE feedback_no IS NOT NULL;
