"""PostgreSQL adapter for customer segments (``customers``, imported from CRM
data by ``tingjian import customers``). psycopg errors become StoreError."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from core.errors import StoreError
from core.pg import PgConnection


class PostgresSegments:
    def __init__(self, dsn: str) -> None:
        self._pg = PgConnection(dsn, autocommit=True, what="customer segments")

    def __call__(self, customer_keys: Sequence[str]) -> dict[str, str]:
        if not customer_keys:
            return {}
        try:
            rows = (
                self._pg.get()
                .execute(
                    "SELECT customer_key, segment FROM customers WHERE customer_key = ANY(%s)",
                    (list(customer_keys),),
                )
                .fetchall()
            )
        except psycopg.Error as exc:
            raise StoreError(f"segment lookup failed: {exc}") from exc
        return {str(k): str(v) for k, v in rows}
