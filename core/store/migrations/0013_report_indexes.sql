-- 复盘 reports (reports/) read a period's tickets with, per ticket, whether it
-- was reopened, corrected or breached: these lookups by ticket_id and the
-- period scans by submission time must use indexes on a million tickets.
-- Owner: reports (read only).
CREATE INDEX IF NOT EXISTS label_corrections_ticket ON label_corrections (ticket_id);
CREATE INDEX IF NOT EXISTS sla_marks_breach_ticket ON sla_marks (ticket_id, clock) WHERE mark = 'breach';
CREATE INDEX IF NOT EXISTS ticket_events_reopen ON ticket_events (ticket_id)
    WHERE to_state = '处理中' AND from_state IN ('待客户确认', '已完成');
CREATE INDEX IF NOT EXISTS tickets_submitted_department ON tickets (department, submitted_at);
