"""PostgreSQL adapter for the dedup index. psycopg errors become StoreError."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg

from core.errors import StoreError
from core.pg import PgConnection
from triage.ports import DedupEntry as Row


class PostgresDedupStore:
    def __init__(self, dsn: str) -> None:
        self._pg = PgConnection(dsn, autocommit=True, what="dedup store")

    def _c(self) -> psycopg.Connection:
        return self._pg.get()

    def load(
        self, customer_keys: Sequence[str], source_keys: Sequence[str], since: datetime
    ) -> list[Row]:
        try:
            rows = (
                self._c()
                .execute(
                    "SELECT source_key, customer_key, root_key, received_at, digest, shingles, type,"
                    " repeat_count, incident FROM dedup_entries"
                    " WHERE (customer_key = ANY(%s) AND received_at >= %s) OR source_key = ANY(%s)"
                    " ORDER BY received_at, source_key",
                    (list(customer_keys), since, list(source_keys)),
                )
                .fetchall()
            )
        except psycopg.Error as exc:
            raise StoreError(f"dedup lookup failed: {exc}") from exc
        return [Row(r[0], r[1], r[2], r[3], r[4], frozenset(r[5]), r[6], r[7], r[8]) for r in rows]

    def save(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        try:
            conn = self._c()
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO dedup_entries (source_key, customer_key, root_key, received_at, digest,"
                    " shingles, type, repeat_count, incident) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                    " ON CONFLICT (source_key) DO NOTHING",
                    [
                        (
                            r.source_key,
                            r.customer_key,
                            r.root_key,
                            r.received_at,
                            r.digest,
                            sorted(r.shingles),
                            r.type,
                            r.repeat_count,
                            r.incident,
                        )
                        for r in rows
                    ],
                )
        except psycopg.Error as exc:
            raise StoreError(f"dedup save failed: {exc}") from exc

    def purge(self, before: datetime) -> int:
        try:
            cur = self._c().execute("DELETE FROM dedup_entries WHERE received_at < %s", (before,))
        except psycopg.Error as exc:
            raise StoreError(f"dedup purge failed: {exc}") from exc
        return cur.rowcount
