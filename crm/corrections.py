"""Agents' label corrections for the data team: one labeled item per ticket
(the latest human label wins), in the corpus's own schema so that
``tingjian model train --data data/corpus --data corrections.jsonl`` learns
from them; text masked (SPEC §10), the model's original labels beside."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from core.errors import StoreError
from core.privacy import mask_text


@dataclass(frozen=True)
class ExportReport:
    tickets: int
    corrections: int
    contradictions: int  # tickets whose agents disagreed with each other


def export_corrections(
    dsn: str, since: datetime | None = None
) -> tuple[list[dict[str, Any]], ExportReport]:
    sql = (
        "SELECT t.ticket_no, t.channel, t.subject, t.content, c.at, c.actor, c.model_version,"
        " c.original, c.corrected FROM label_corrections c JOIN tickets t ON t.id = c.ticket_id"
        + (" WHERE c.at >= %s" if since else "")
        + " ORDER BY t.ticket_no, c.at, c.id"
    )
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            rows = conn.execute(sql, (since,) if since else ()).fetchall()
    except psycopg.Error as exc:
        raise StoreError(f"cannot read corrections: {exc}") from exc
    out: list[dict[str, Any]] = []
    contradictions = 0
    for group in _by_ticket(rows):
        labels = [tuple(r[8].get(k) for k in ("type", "priority", "sentiment")) for r in group]
        if len(set(labels)) > 1:
            contradictions += 1
        first, last = group[0], group[-1]
        out.append(
            {
                "id": f"correction-{last[0]}",
                "channel": last[1],
                "subject": mask_text(last[2]) if last[2] else None,
                "text": mask_text(last[3]),
                "type": last[8]["type"],
                "priority": last[8]["priority"],
                "sentiment": last[8]["sentiment"],
                "topics": last[8].get("topics") or [],
                "model_labels": first[7],
                "model_version": first[6],
                "corrected_by": last[5],
                "corrected_at": last[4].isoformat(),
                "corrections": len(group),
            }
        )
    return out, ExportReport(len(out), len(rows), contradictions)


def _by_ticket(rows: list[Any]) -> Iterator[list[Any]]:
    group: list[Any] = []
    for r in rows:
        if group and group[-1][0] != r[0]:
            yield group
            group = []
        group.append(r)
    if group:
        yield group
