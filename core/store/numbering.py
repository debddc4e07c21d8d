"""反馈编号: ``CRM`` + date + daily sequence, unique across concurrent writers.

The per-day row is locked by the upsert until the caller's transaction ends,
so two writers never get the same number, and a rolled-back batch gives its
numbers back (no gaps from the sink)."""

from __future__ import annotations

import threading
from datetime import date, datetime
from zoneinfo import ZoneInfo

import psycopg

from core.errors import IdempotencyConflict, StoreError
from core.pg import PgConnection


def format_number(fmt: str, day: date, seq: int) -> str:
    return fmt.format(date=day, seq=seq)


def day_prefix_length(fmt: str) -> int:
    """How many leading characters of a number hold the prefix and the day:
    numbers sort by those, then by length (a sequence past 9999 grows a digit),
    then as text."""
    day = date(2000, 1, 1)
    low, high = format_number(fmt, day, 0), format_number(fmt, day, 999_999_999)
    n = 0
    while n < min(len(low), len(high)) and low[n] == high[n]:
        n += 1
    return n


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


def reserve_numbers(cur: psycopg.Cursor, counts: dict[date, int]) -> dict[date, int]:
    """Take ``counts[day]`` numbers of each day as one block: returns each
    day's last sequence, the block being the ``counts[day]`` ending there.
    Days are locked in date order, so writers of several days never deadlock."""
    days = sorted(d for d, n in counts.items() if n > 0)
    if not days:
        return {}
    rows = cur.execute(
        "INSERT INTO ticket_sequences (day, last_seq)"
        " SELECT * FROM unnest(%s::date[], %s::int[]) ORDER BY 1"
        " ON CONFLICT (day) DO UPDATE SET last_seq = ticket_sequences.last_seq + EXCLUDED.last_seq"
        " RETURNING day, last_seq",
        (days, [counts[d] for d in days]),
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


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

    def allocate(self, at: datetime, source_key: str, body_sha256: str | None = None) -> str:
        """The item's number: the one it already has, or the next of the day.
        A known item with a different body is an IdempotencyConflict."""
        with self._lock:
            return self._allocate(at, source_key, body_sha256)

    def _allocate(self, at: datetime, source_key: str, body_sha256: str | None) -> str:
        try:
            return self._pg.transact(
                lambda conn: self._allocate_in(conn, at, source_key, body_sha256)
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot allocate a feedback number: {exc}") from exc

    def _allocate_in(
        self, conn: psycopg.Connection, at: datetime, source_key: str, body_sha256: str | None
    ) -> str:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT feedback_no, body_sha256 FROM assigned_numbers WHERE source_key = %s",
                (source_key,),
            )
            row = cur.fetchone()
            if row:
                if body_sha256 and row[1] and row[1] != body_sha256:
                    raise IdempotencyConflict(
                        "Idempotency-Key already used for a different submission"
                    )
                return str(row[0])
            number = next_number(cur, self._fmt, at.astimezone(self._tz).date())
            cur.execute(
                "INSERT INTO assigned_numbers (source_key, feedback_no, body_sha256)"
                " VALUES (%s, %s, %s)",
                (source_key, number, body_sha256),
            )
            return number
