"""One PostgreSQL connection that reconnects after a failure. psycopg's
connection errors become StoreError here, so adapters map only query errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import psycopg

from core.errors import StoreError

T = TypeVar("T")


class PgConnection:
    def __init__(self, dsn: str, *, autocommit: bool = False, what: str = "PostgreSQL") -> None:
        self._dsn, self._autocommit, self._what = dsn, autocommit, what
        self._conn: psycopg.Connection | None = None

    def get(self) -> psycopg.Connection:
        """The open connection, or a new one if there is none or it broke."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(
                    self._dsn, autocommit=self._autocommit, connect_timeout=10
                )
            except psycopg.Error as exc:
                raise StoreError(f"{self._what} unreachable: {exc}") from exc
        return self._conn

    def transact(self, fn: Callable[[psycopg.Connection], T]) -> T:
        """``fn`` in one transaction; once more, on a new connection, when the
        first attempt found the connection dead (a terminated backend, a
        restarted server, an idle connection cut): nothing was committed, so
        the retry is safe, and the customer gets no 503 for our stale socket."""
        for attempt in (1, 2):
            conn = self.get()
            try:
                with conn.transaction():
                    return fn(conn)
            except psycopg.OperationalError:
                if attempt == 2 or not (conn.broken or conn.closed):
                    raise
                self.close()
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def ping(dsn: str, timeout_s: int = 3) -> bool:
    """Healthcheck: a fresh connection answers ``SELECT 1``."""
    try:
        with psycopg.connect(dsn, connect_timeout=timeout_s) as c:
            c.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False
