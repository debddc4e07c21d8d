"""The CRM store (PostgreSQL): tickets, merged feedback, events, sink offsets."""
