"""The one exception tree of Tingjian.

Third-party errors (kafka-python, psycopg, pydantic, imaplib, urllib, openpyxl)
are mapped to these at the adapter boundary with ``raise ... from exc`` so that
services decide on our types, never on a library's. ``tests/unit/test_error_tree.py``
checks that no adapter lets a foreign exception escape.

    TingjianError
    ├── ConfigError            an invalid setting or business table (exit code 2)
    ├── ContractError          a message or row does not match its contract -> DLQ / report
    │   └── IdempotencyConflict an idempotency key reused for another body (422)
    ├── TransportError         Kafka unreachable / write not acknowledged
    ├── StoreError             PostgreSQL failed
    │   └── SchemaError        the database is not migrated to what the code needs
    ├── SourceError            an outside source failed or answered nonsense
    │                          (IMAP server, social platform, import file)
    ├── ModelError             the triage model bundle is missing or does not match
    ├── NotFound               no such ticket (404)
    ├── AccessDenied           the token's role or department may not do this (403)
    └── Conflict               the change does not fit the ticket's state (409)
        ├── InvalidTransition  not a transition of SPEC §7 from this state
        └── ConcurrentChange   someone else is changing the same ticket
"""

from __future__ import annotations


class TingjianError(Exception):
    """Base of every error Tingjian raises on purpose."""


class ConfigError(TingjianError):
    """An invalid setting: ``str()`` is one line naming the key and the problem."""


class ContractError(TingjianError):
    """A message that does not match its contract; it goes to the dead-letter topic."""


class IdempotencyConflict(ContractError):
    """An idempotency key reused for a different request body (HTTP 422)."""


class TransportError(TingjianError):
    """Kafka could not be reached or did not acknowledge a write."""


class StoreError(TingjianError):
    """The CRM store (PostgreSQL) failed."""


class SchemaError(StoreError):
    """The database is not at the migration version the code needs."""


class SourceError(TingjianError):
    """A source outside Tingjian (mail server, platform API, a file) failed."""


class ModelError(TingjianError):
    """The triage model bundle is missing, corrupt or does not match its hash."""


class NotFound(TingjianError):
    """The ticket (or other record) asked for does not exist (HTTP 404)."""


class AccessDenied(TingjianError):
    """The caller's role or department may not see or change this (HTTP 403)."""


class Conflict(TingjianError):
    """The change does not fit the current state of the record (HTTP 409)."""


class InvalidTransition(Conflict):
    """Not a transition of SPEC §7 from the ticket's state; ``allowed`` lists
    the states it may move to."""

    def __init__(self, message: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed


class ConcurrentChange(Conflict):
    """Another request is changing the same ticket, or the caller's copy is stale."""
