"""Versioned SQL migrations: ``NNNN_name.sql`` files applied in order, once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from core.errors import SchemaError, StoreError

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works: it only has to be the same for every migrating process.
_LOCK_ID = 0x7469_6E67


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    out = []
    for f in resources.files("core.store").joinpath("migrations").iterdir():
        m = _NAME.match(f.name)
        if m:
            out.append(Migration(int(m.group(1)), m.group(2), f.read_text(encoding="utf-8")))
    return sorted(out, key=lambda m: m.version)


def latest_version() -> int:
    return available()[-1].version


def _ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )


def current_version(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    v = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(v[0]) if v else 0


def migrate(dsn: str) -> list[str]:
    """Apply pending migrations; safe when several processes run it at once."""
    applied: list[str] = []
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
            try:
                _ensure_table(conn)
                done = current_version(conn)
                for m in available():
                    if m.version <= done:
                        continue
                    with conn.transaction():
                        conn.execute(m.sql.encode())
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                            (m.version, m.name),
                        )
                    applied.append(f"{m.version:04d}_{m.name}")
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    except psycopg.Error as exc:
        raise StoreError(f"migration failed: {exc}") from exc
    return applied


def check_schema(conn: psycopg.Connection) -> None:
    have, need = current_version(conn), latest_version()
    if have < need:
        raise SchemaError(
            f"database schema is at version {have}, this code needs {need}: run `tingjian db migrate`"
        )


def require_schema(dsn: str, who: str) -> None:
    """At a service's start: the database is reachable and migrated, or StoreError."""
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            check_schema(conn)
    except psycopg.Error as exc:
        raise StoreError(f"cannot reach PostgreSQL for the {who}: {exc}") from exc
