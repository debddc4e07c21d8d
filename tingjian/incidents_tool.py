"""``tingjian incidents [--open]``: the incidents triage found, masked."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from config import Settings
from core.errors import StoreError
from core.privacy import mask_text


def list_incidents(dsn: str, *, open_only: bool, window: timedelta) -> list[dict[str, Any]]:
    """Newest first; open = a member seen within the incident window."""
    since = datetime.now(UTC) - window if open_only else datetime.min.replace(tzinfo=UTC)
    try:
        with psycopg.connect(dsn) as c:
            rows = c.execute(
                "SELECT i.incident_key, i.first_seen, i.last_seen, i.member_count, i.p1, i.summary,"
                " ARRAY(SELECT DISTINCT t.ticket_no FROM ticket_feedback f"
                " JOIN tickets t ON t.id = f.ticket_id"
                " WHERE f.channel || ':' || f.source_id = ANY(i.member_keys) ORDER BY 1)"
                " FROM incidents i WHERE i.last_seen >= %s ORDER BY i.last_seen DESC",
                (since,),
            ).fetchall()
    except psycopg.Error as exc:
        raise StoreError(f"incidents lookup failed: {exc}") from exc
    return [
        {
            "first_seen": r[1],
            "last_seen": r[2],
            "count": r[3],
            "priority": "P1" if r[4] else "P2",
            "summary": mask_text(r[5]),
            "tickets": list(r[6]),
            "open": r[2] >= datetime.now(UTC) - window,
        }
        for r in rows
    ]


def print_incidents(settings: Settings, open_only: bool) -> int:
    window = timedelta(minutes=settings.triage.incident_window_minutes)
    rows = list_incidents(settings.postgres.dsn, open_only=open_only, window=window)
    out = sys.stdout
    out.write("首次            最近            客户数  优先级  状态  工单              摘要\n")
    for r in rows:
        tickets = ",".join(r["tickets"][:3]) + ("…" if len(r["tickets"]) > 3 else "")
        out.write(
            f"{r['first_seen']:%m-%d %H:%M:%S}  {r['last_seen']:%m-%d %H:%M:%S}  "
            f"{r['count']:<6}  {r['priority']:<6}  {'open' if r['open'] else '过期':<4}  "
            f"{tickets or '-':<16}  {r['summary'][:40]}\n"
        )
    out.write(f"({len(rows)} incident{'s' if len(rows) != 1 else ''})\n")
    return 0
