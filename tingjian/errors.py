"""The one exception tree of Tingjian.

Third-party errors (kafka-python, psycopg, pydantic) are mapped to these at the
adapter boundary with ``raise ... from exc`` so that services decide on our
types, never on a library's.

    TingjianError
    ├── ConfigError            (config.settings; invalid setting, exit code 2)
    ├── ContractError          a message does not match its contract -> DLQ
    ├── TransportError         Kafka unreachable / write not acknowledged
    ├── StoreError             PostgreSQL failed
    │   └── SchemaError        the database is not migrated to what the code needs
    └── ModelError             the triage model bundle is missing or does not match
"""

from __future__ import annotations


class TingjianError(Exception):
    """Base of every error Tingjian raises on purpose."""


class ContractError(TingjianError):
    """A message that does not match its contract; it goes to the dead-letter topic."""


class TransportError(TingjianError):
    """Kafka could not be reached or did not acknowledge a write."""


class StoreError(TingjianError):
    """The CRM store (PostgreSQL) failed."""


class SchemaError(StoreError):
    """The database is not at the migration version the code needs."""


class ModelError(TingjianError):
    """The triage model bundle is missing, corrupt or does not match its hash."""
