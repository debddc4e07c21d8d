"""The CRM side after triage (SPEC §7): the ticket lifecycle, the ticket API
and what agents change. It meets the other stages only in the store's
documented tables (``core/store``)."""
