"""复盘 (SPEC §11): weekly and monthly reports a manager reads, computed from the
CRM store's tables (tickets, ticket_events, ticket_feedback, sla_marks,
label_corrections, customers, incidents when that table exists). Read only."""
