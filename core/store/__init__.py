"""The store's schema, owned by no single stage: versioned SQL migrations
(``migrations/NNNN_name.sql``), ``tingjian db migrate``, the schema check every
service runs at start, and the 反馈编号 allocator that the web connector and the
CRM sink share.

The documented tables and their owners (the one stage that writes them; the
others may only read what this list says):

| table | owner (writes) | read by | what |
|---|---|---|---|
| ``tickets`` | sinks/crm | tingjian tickets, reports | 反馈处理记录表 (SPEC §8) |
| ``ticket_feedback`` | sinks/crm | | every item stored, first or merged; unique (channel, source_id) |
| ``ticket_events`` | sinks/crm | | state changes with time and actor (SPEC §7) |
| ``sink_offsets`` | sinks/crm | | Kafka offsets, in the transaction of the tickets |
| ``ticket_sequences`` | core/store/numbering | | per-day sequence of 反馈编号 |
| ``assigned_numbers`` | core/store/numbering | | numbers already told to a customer, by item |
| ``dedup_entries`` | triage | | the duplicate index (SPEC §9), keyed hashes only |
| ``ingest_checkpoints`` | ingest | | connector cursors (IMAP UID, social cursors) |
| ``ingest_seen`` | ingest | | keys of items a connector already produced |
| ``schema_migrations`` | core/store/schema | every service at start | applied migrations |
"""
