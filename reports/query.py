"""The report's SQL: a period's tickets with what happened to each (reopened,
corrected, SLA breaches), served by the indexes of migration 0013 and
tickets_submitted_at; the weekly trend aggregated in the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg

from core.errors import StoreError
from reports.data import StoreData, TicketRow, WeekCount
from reports.period import Period

_ROWS = """
SELECT t.submitted_at, t.type, t.topics, t.channel, t.priority, t.department,
       COALESCE(c.segment, t.customer_segment), t.sentiment, t.summary,
       EXTRACT(EPOCH FROM (t.resolved_at - t.submitted_at)) / 3600.0,
       t.satisfaction, t.needs_review,
       EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id AND e.to_state = '处理中'
               AND e.from_state IN ('待客户确认', '已完成')),
       EXISTS (SELECT 1 FROM label_corrections l WHERE l.ticket_id = t.id),
       ARRAY(SELECT DISTINCT s.clock FROM sla_marks s WHERE s.ticket_id = t.id AND s.mark = 'breach'),
       t.incident
  FROM tickets t LEFT JOIN customers c ON c.customer_key = t.customer_key
 WHERE t.submitted_at >= %(start)s AND t.submitted_at < %(end)s
   AND (%(dept)s::text IS NULL OR t.department = %(dept)s)
"""

_WEEKS = """
SELECT (date_trunc('week', t.submitted_at AT TIME ZONE %(tz)s))::date AS wk, t.type, count(*),
       count(*) FILTER (WHERE t.satisfaction = '满意'),
       count(*) FILTER (WHERE t.satisfaction = '基本满意'),
       count(*) FILTER (WHERE t.satisfaction = '不满意')
  FROM tickets t
 WHERE t.submitted_at >= %(start)s AND t.submitted_at < %(end)s
   AND (%(dept)s::text IS NULL OR t.department = %(dept)s)
 GROUP BY 1, 2 ORDER BY 1, 2
"""

# The incidents table belongs to triage (migration 0015): counted by first_seen,
# read only if it exists (a store migrated before 0015 has none).
_INCIDENT_TIME_COLUMNS = (
    "first_seen",
    "opened_at",
    "started_at",
    "detected_at",
    "created_at",
    "first_seen_at",
)


def _row(r: tuple[Any, ...]) -> TicketRow:
    return TicketRow(
        submitted_at=r[0],
        type=r[1],
        topics=tuple(r[2] or ()),
        channel=r[3],
        priority=r[4],
        department=r[5],
        segment=r[6],
        sentiment=r[7],
        summary=r[8],
        handling_hours=None if r[9] is None else float(r[9]),
        satisfaction=r[10],
        needs_review=bool(r[11]),
        reopened=bool(r[12]),
        corrected=bool(r[13]),
        breaches=frozenset(r[14] or ()),
        incident=bool(r[15]),
    )


def _incidents(conn: psycopg.Connection, period: Period) -> int | None:
    if conn.execute("SELECT to_regclass('public.incidents')").fetchone() == (None,):
        return None
    cols = {
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'incidents'"
        ).fetchall()
    }
    col = next((c for c in _INCIDENT_TIME_COLUMNS if c in cols), None)
    if col is None:
        return None
    row = conn.execute(
        f"SELECT count(*) FROM incidents WHERE {col} >= %s AND {col} < %s",  # col from our list
        (period.start, period.end),
    ).fetchone()
    return int(row[0]) if row else 0


def load(
    dsn: str,
    period: Period,
    *,
    tz: str,
    trend_weeks: int,
    department: str | None = None,
    progress: Callable[[str], None] = lambda _s: None,
) -> StoreData:
    def fetch(start: datetime, end: datetime) -> list[TicketRow]:
        cur = conn.execute(_ROWS, {"start": start, "end": end, "dept": department})
        return [_row(r) for r in cur]

    trend_start = period.end - timedelta(days=7 * trend_weeks)
    if period.kind == "monthly":  # whole weeks up to the month's end
        trend_start = min(trend_start, period.start)
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            conn.read_only = True
            progress("tickets of the period")
            current = fetch(period.start, period.end)
            progress("tickets of the previous period")
            previous = fetch(period.prev_start, period.start)
            progress("weekly trend")
            weeks = [
                WeekCount(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]))
                for r in conn.execute(
                    _WEEKS,
                    {"tz": tz, "start": trend_start, "end": period.end, "dept": department},
                )
            ]
            incidents = _incidents(conn, period)
    except psycopg.Error as exc:
        raise StoreError(f"cannot read the store for the report: {exc}") from exc
    return StoreData(current, previous, weeks, incidents)
