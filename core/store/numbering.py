"""反馈编号: ``CRM`` + date + daily sequence, unique across concurrent writers.

The per-day row is locked by the upsert until the caller's transaction ends,
so two writers never get the same number, and a rolled-back batch gives its
numbers back (no gaps from the sink)."""

from __future__ import annotations

import threading
from datetime import date, datetime
from zoneinfo import ZoneInfo

import psycopg

from core.errors import StoreError
from core.pg import PgConnection


def format_number(fmt: str, day: date, seq: int) -> str:
    return fmt.format(date=day, seq=seq)


def next_number(cur: psycopg.Cursor, fmt: str, day: date) -> str:
    cur.execute(
        "INSERT INTO ticket_sequences (day, last_seq) VALUES (%s, 1)"
        " ON CONFLICT (day) DO UPDATE SET last_seq = ticket_sequences.last_seq + 1"
        " RETURNING last_seq",
        (day,),
    )
    row = cur.fetchone()
    assert row is not None
    return format_number(fmt, day, int(row[0]))


class NumberAllocator:
    """For connectors that must tell the customer the number at once (web form).
    A number handed out for a write Kafka then refuses is never reused: that
    leaves a gap, which is the price of answering before the sink runs."""

    def __init__(self, dsn: str, fmt: str, tz: ZoneInfo) -> None:
        self._fmt, self._tz = fmt, tz
        self._pg = PgConnection(dsn, what="number allocator")
        # The web connector calls this from its thread pool; one connection
        # must not interleave two transactions.
        self._lock = threading.Lock()

    def allocate(self, at: datetime, source_key: str) -> str:
        """The item's number: the one it already has, or the next of the day."""
        with self._lock:
            return self._allocate(at, source_key)

    def _allocate(self, at: datetime, source_key: str) -> str:
        try:
            conn = self._pg.get()
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(
                    "SELECT feedback_no FROM assigned_numbers WHERE source_key = %s", (source_key,)
                )
                row = cur.fetchone()
                if row:
                    return str(row[0])
                number = next_number(cur, self._fmt, at.astimezone(self._tz).date())
                cur.execute(
                    "INSERT INTO assigned_numbers (source_key, feedback_no) VALUES (%s, %s)",
                    (source_key, number),
                )
                return number
        except psycopg.Error as exc:
            raise StoreError(f"cannot allocate a feedback number: {exc}") from exc
