"""Reads the tickets' labels of the last days for ``tingjian model drift``."""

from __future__ import annotations

import psycopg

from core.errors import StoreError


def recent_label_counts(dsn: str, days: int) -> dict[str, dict[str, float]]:
    """head -> label -> tickets labeled so in the last ``days`` days (by
    registration time), the model's labels as written (before agents' edits
    only where the store kept them: label_corrections.original)."""
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            rows = conn.execute(
                "SELECT h, CASE h WHEN 'type' THEN coalesce(c.original->>'type', t.type)"
                " WHEN 'priority' THEN coalesce(c.original->>'priority', t.priority)"
                " ELSE coalesce(c.original->>'sentiment', t.sentiment) END, count(*)"
                " FROM tickets t"
                " LEFT JOIN LATERAL (SELECT original FROM label_corrections lc"
                "   WHERE lc.ticket_id = t.id ORDER BY lc.at, lc.id LIMIT 1) c ON true,"
                " unnest(ARRAY['type','priority','sentiment']) AS h"
                " WHERE t.registered_at >= now() - make_interval(days => %s) GROUP BY 1, 2",
                (days,),
            ).fetchall()
    except psycopg.Error as exc:
        raise StoreError(f"cannot read recent tickets: {exc}") from exc
    out: dict[str, dict[str, float]] = {}
    for head, label, n in rows:
        out.setdefault(str(head), {})[str(label)] = float(n)
    return out
