"""PostgreSQL adapter of shadow mode: triage writes the shadow tables
(migration 0014) through this and nothing else; the report reads them with
the tickets and the agents' corrections (documented store tables)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core.errors import StoreError
from core.pg import PgConnection
from triage.shadow import Compared, Disagreement


class PostgresShadowStore:
    def __init__(self, dsn: str) -> None:
        self._pg = PgConnection(dsn, what="shadow store")

    def record(
        self,
        live_version: str,
        shadow_version: str,
        compared: Sequence[Compared],
        disagreements: Sequence[Disagreement],
    ) -> list[str]:
        def write(conn: psycopg.Connection) -> list[str]:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO shadow_compared (shadow_version, live_version, channel,"
                    " source_id, live_labels) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [
                        (shadow_version, live_version, c.channel, c.source_id, Jsonb(c.live_labels))
                        for c in compared
                    ],
                )
                heads: list[str] = []
                for d in disagreements:
                    cur.execute(
                        "INSERT INTO shadow_disagreements (shadow_version, live_version, channel,"
                        " source_id, head, live_label, live_confidence, shadow_label,"
                        " shadow_confidence) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT DO NOTHING RETURNING head",
                        (
                            shadow_version,
                            live_version,
                            d.channel,
                            d.source_id,
                            d.head,
                            d.live_label,
                            d.live_confidence,
                            d.shadow_label,
                            d.shadow_confidence,
                        ),
                    )
                    row = cur.fetchone()
                    if row:
                        heads.append(str(row[0]))
                return heads

        try:
            return self._pg.transact(write)
        except psycopg.Error as exc:
            raise StoreError(f"shadow write failed: {exc}") from exc


def shadow_report_rows(dsn: str, shadow_version: str | None) -> dict[str, Any]:
    """What ``model shadow-report`` prints: per head and live class, items
    compared and disagreements; and, for disagreements on tickets an agent
    corrected, whose label the agent's latest one matches."""
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            if shadow_version is None:
                row = conn.execute(
                    "SELECT shadow_version FROM shadow_compared ORDER BY at DESC LIMIT 1"
                ).fetchone()
                if row is None:
                    return {"shadow_version": None}
                shadow_version = str(row[0])
            compared = conn.execute(
                "SELECT h, live_labels->>h, count(*) FROM shadow_compared,"
                " unnest(ARRAY['type','priority','sentiment']) AS h"
                " WHERE shadow_version = %s GROUP BY 1, 2",
                (shadow_version,),
            ).fetchall()
            disagreed = conn.execute(
                "SELECT head, live_label, count(*) FROM shadow_disagreements"
                " WHERE shadow_version = %s GROUP BY 1, 2",
                (shadow_version,),
            ).fetchall()
            judged = conn.execute(
                "SELECT d.head, CASE WHEN c.corrected->>d.head = d.live_label THEN 'live'"
                " WHEN c.corrected->>d.head = d.shadow_label THEN 'shadow' ELSE 'neither' END,"
                " count(*) FROM shadow_disagreements d"
                " JOIN tickets t ON t.channel = d.channel AND t.source_id = d.source_id"
                " JOIN LATERAL (SELECT corrected FROM label_corrections lc"
                "   WHERE lc.ticket_id = t.id ORDER BY lc.at DESC, lc.id DESC LIMIT 1) c ON true"
                " WHERE d.shadow_version = %s GROUP BY 1, 2",
                (shadow_version,),
            ).fetchall()
    except psycopg.Error as exc:
        raise StoreError(f"cannot read the shadow tables: {exc}") from exc
    return {
        "shadow_version": shadow_version,
        "compared": {(str(h), str(lab)): int(n) for h, lab, n in compared},
        "disagreed": {(str(h), str(lab)): int(n) for h, lab, n in disagreed},
        "judged": {(str(h), str(w)): int(n) for h, w, n in judged},
    }
