"""Durable connector checkpoints in PostgreSQL. A checkpoint and the keys of
the items it covers are written in one transaction, after Kafka acknowledged
the items: a crash before it repeats work (absorbed downstream by the unique
source id), never skips it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core.errors import StoreError
from core.pg import PgConnection


class CheckpointStore:
    def __init__(self, dsn: str, connector: str) -> None:
        self.connector = connector
        self._pg = PgConnection(dsn, what="checkpoint store")

    def _c(self) -> psycopg.Connection:
        return self._pg.get()

    def get(self, key: str) -> Any | None:
        try:
            with self._c().transaction():
                row = (
                    self._c()
                    .execute(
                        "SELECT value FROM ingest_checkpoints WHERE connector = %s AND key = %s",
                        (self.connector, key),
                    )
                    .fetchone()
                )
        except psycopg.Error as exc:
            raise StoreError(f"checkpoint read failed: {exc}") from exc
        return row[0] if row else None

    def seen(self, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        if not keys:
            return set()
        try:
            with self._c().transaction():
                rows = (
                    self._c()
                    .execute(
                        "SELECT item_key FROM ingest_seen WHERE connector = %s AND item_key = ANY(%s)",
                        (self.connector, keys),
                    )
                    .fetchall()
                )
        except psycopg.Error as exc:
            raise StoreError(f"seen-set read failed: {exc}") from exc
        return {r[0] for r in rows}

    def commit(self, key: str | None, value: Any, seen: Iterable[str] = ()) -> None:
        try:
            conn = self._c()
            with conn.transaction(), conn.cursor() as cur:
                if key is not None:
                    cur.execute(
                        "INSERT INTO ingest_checkpoints (connector, key, value) VALUES (%s, %s, %s)"
                        " ON CONFLICT (connector, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
                        (self.connector, key, Jsonb(value)),
                    )
                cur.executemany(
                    "INSERT INTO ingest_seen (connector, item_key) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    [(self.connector, k) for k in seen],
                )
        except psycopg.Error as exc:
            raise StoreError(f"checkpoint write failed: {exc}") from exc

    def close(self) -> None:
        self._pg.close()
