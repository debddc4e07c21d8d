"""The store's schema, owned by no single stage: versioned SQL migrations
(``migrations/NNNN_name.sql``), ``tingjian db migrate``, the schema check every
service runs at start, and the 反馈编号 allocator that the web connector and the
CRM sink share.

The documented tables and their owners (the one stage that writes them; the
others may only read what this list says):

| table | owner (writes) | read by | what |
|---|---|---|---|
| ``tickets`` | sinks/crm (triage columns), crm (lifecycle: state, assignee, solution, satisfaction, acknowledged_at, first_response_at, resolved_at, archived_at, version; and corrected labels) | tingjian tickets, reports | 反馈处理记录表 (SPEC §8) |
| ``ticket_feedback`` | sinks/crm (crm: unmerge moves a row) | crm | every item stored, first or merged; unique (channel, source_id); its own priority and deadlines, and for a merge the ticket's before it (undo restores them) |
| ``ticket_events`` | sinks/crm (新建), crm (every later change) | crm, reports | changes with time, actor and kind (SPEC §7) |
| ``api_tokens`` | crm | | hashed bearer tokens with role and department |
| ``label_corrections`` | crm | the data team | agents' corrections with the model's original labels |
| ``sla_marks`` | crm (the SLA clock) | | each SLA warning and breach once; outbox of crm.notifications |
| ``relay_cursors`` | crm (the SLA clock) | | how far ticket events were relayed to crm.notifications |
| ``customers`` | crm (``tingjian import customers``) | triage | segments from CRM data by keyed contact hash |
| ``sink_offsets`` | sinks/crm | | Kafka offsets, in the transaction of the tickets |
| ``ticket_sequences`` | core/store/numbering | | per-day sequence of 反馈编号 |
| ``assigned_numbers`` | core/store/numbering | | numbers already told to a customer, by item |
| ``dedup_entries`` | triage | | the duplicate index (SPEC §9), keyed hashes only |
| ``incident_bursts`` | triage | | recent problem items by MinHash band: burst state shared by every worker |
| ``incidents`` | triage | crm, tingjian incidents | one row per incident: first/last seen, members, masked summary, P1; ``notified_at`` NULL = event not relayed |
| ``ingest_checkpoints`` | ingest | | connector cursors (IMAP UID, social cursors) |
| ``ingest_seen`` | ingest | | keys of items a connector already produced |
| ``schema_migrations`` | core/store/schema | every service at start | applied migrations |
"""
