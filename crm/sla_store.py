"""Where the SLA clock reads open tickets and records its marks (exactly once:
a unique key per ticket, clock, mark and period) with their events, and the
outbox of notifications for Kafka."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from core.errors import StoreError
from core.pg import PgConnection
from core.privacy import mask_text
from crm.sla import Due, TicketClock

ACTOR = "system:sla"


class SlaLedger:
    def __init__(self, dsn: str) -> None:
        self._pg = PgConnection(dsn, what="CRM store (SLA clock)")

    def close(self) -> None:
        self._pg.close()

    def open_clocks(self, limit: int = 10_000) -> list[TicketClock]:
        sql = (
            "SELECT t.id, t.ticket_no, t.priority, t.department, t.state, t.ack_due_at,"
            " t.first_response_due_at, t.resolve_due_at, t.update_every_hours,"
            " t.acknowledged_at, t.first_response_at, t.resolved_at,"
            " GREATEST(t.registered_at, (SELECT max(e.at) FROM ticket_events e"
            "   WHERE e.ticket_id = t.id AND e.kind IN ('state', 'note')))"
            " FROM tickets t WHERE t.state NOT IN ('已完成', '已归档') ORDER BY t.id LIMIT %s"
        )
        rows = self._run(lambda c: c.execute(sql, (limit,)).fetchall())
        return [TicketClock(*r) for r in rows]

    def record(self, dues: Sequence[Due], now: datetime) -> list[Due]:
        """Store the marks not stored yet, each with its ticket event; the new ones."""

        def write(c: psycopg.Connection) -> list[Due]:
            new = []
            for d in dues:
                row = c.execute(
                    "INSERT INTO sla_marks (ticket_id, clock, mark, period, due_at, marked_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (ticket_id, clock, mark, period) DO NOTHING RETURNING id",
                    (d.ticket_id, d.clock, d.mark, d.period, d.due_at, now),
                ).fetchone()
                if row is None:
                    continue
                state = c.execute(
                    "SELECT state FROM tickets WHERE id = %s", (d.ticket_id,)
                ).fetchone()
                c.execute(
                    "INSERT INTO ticket_events (ticket_id, at, actor, kind, from_state, to_state, note)"
                    " VALUES (%s, %s, %s, 'sla', %s, %s, %s)",
                    (
                        d.ticket_id,
                        now,
                        ACTOR,
                        state[0] if state else None,
                        state[0] if state else "新建",
                        f"{d.clock} {d.mark} (due {d.due_at.isoformat()})",
                    ),
                )
                new.append(d)
            return new

        return self._run(write)  # type: ignore[no-any-return]

    def pending_notifications(self, limit: int = 500) -> list[tuple[int, bytes, bytes]]:
        """(mark id, key, JSON value) of marks Kafka has not acknowledged yet."""
        rows = self._run(
            lambda c: c.execute(
                "SELECT m.id, t.ticket_no, t.priority, t.department, t.state, m.clock, m.mark,"
                " m.period, m.due_at, m.marked_at FROM sla_marks m JOIN tickets t ON t.id = m.ticket_id"
                " WHERE m.notified_at IS NULL ORDER BY m.id LIMIT %s",
                (limit,),
            ).fetchall()
        )
        out = []
        for r in rows:
            doc: dict[str, Any] = {
                "kind": f"sla.{r[6]}",
                "idempotency_key": f"sla:{r[1]}:{r[5]}:{r[6]}:{r[7]}",
                "feedback_no": r[1],
                "priority": r[2],
                "department": r[3],
                "state": r[4],
                "clock": r[5],
                "due_at": r[8].isoformat(),
                "at": r[9].isoformat(),
            }
            out.append(
                (int(r[0]), str(r[1]).encode(), json.dumps(doc, ensure_ascii=False).encode())
            )
        return out

    def pending_events(self, limit: int = 500) -> tuple[int | None, list[tuple[bytes, bytes]]]:
        """Ticket events after the relay cursor, as notifications (no content,
        no contact: notes masked): the last event id and (key, value) pairs."""
        rows = self._run(
            lambda c: c.execute(
                "SELECT e.id, e.kind, e.from_state, e.to_state, e.note, e.at, e.actor,"
                " t.ticket_no, t.priority, t.department, t.incident, t.type"
                " FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id"
                " WHERE e.id > COALESCE((SELECT last_id FROM relay_cursors WHERE name = 'events'), 0)"
                " AND e.kind <> 'sla' ORDER BY e.id LIMIT %s",
                (limit,),
            ).fetchall()
        )
        out = []
        for r in rows:
            created = r[1] == "state" and r[2] is None
            kind = (
                ("incident" if r[10] else "ticket.created")
                if created
                else ("ticket.state_changed" if r[1] == "state" else f"ticket.{r[1]}")
            )
            doc: dict[str, Any] = {
                "kind": kind,
                "idempotency_key": f"event:{r[0]}",
                "feedback_no": r[7],
                "priority": r[8],
                "department": r[9],
                "type": r[11],
                "from": r[2],
                "to": r[3],
                "note": mask_text(r[4]) if r[4] else None,
                "actor": r[6],
                "at": r[5].isoformat(),
            }
            out.append((str(r[7]).encode(), json.dumps(doc, ensure_ascii=False).encode()))
        return (int(rows[-1][0]) if rows else None), out

    def advance_events(self, last_id: int) -> None:
        self._run(
            lambda c: c.execute(
                "INSERT INTO relay_cursors (name, last_id) VALUES ('events', %s)"
                " ON CONFLICT (name) DO UPDATE SET last_id = GREATEST(relay_cursors.last_id,"
                " EXCLUDED.last_id)",
                (last_id,),
            )
        )

    def mark_notified(self, ids: Sequence[int]) -> None:
        if ids:
            self._run(
                lambda c: c.execute(
                    "UPDATE sla_marks SET notified_at = now() WHERE id = ANY(%s)", (list(ids),)
                )
            )

    def pending_incidents(self, limit: int = 100) -> list[tuple[str, bytes, bytes]]:
        """Incidents triage found that the CRM was not told of yet (table
        ``incidents``, ``notified_at`` NULL): (key, Kafka key, JSON value).
        The summary is masked by triage; member tickets by number only."""
        rows = self._run(
            lambda c: c.execute(
                "SELECT i.incident_key, i.first_seen, i.last_seen, i.member_count, i.summary, i.p1,"
                " ARRAY(SELECT DISTINCT t.ticket_no FROM ticket_feedback f"
                " JOIN tickets t ON t.id = f.ticket_id"
                " WHERE f.channel || ':' || f.source_id = ANY(i.member_keys) ORDER BY 1)"
                " FROM incidents i WHERE i.notified_at IS NULL ORDER BY i.created_at LIMIT %s",
                (limit,),
            ).fetchall()
        )
        out = []
        for r in rows:
            doc: dict[str, Any] = {
                "kind": "incident.detected",
                "idempotency_key": f"incident:{r[0]}",
                "priority": "P1" if r[5] else "P2",
                "members": r[3],
                "tickets": list(r[6]),
                "summary": mask_text(r[4]),
                "first_seen": r[1].isoformat(),
                "at": r[2].isoformat(),
            }
            out.append(
                (str(r[0]), str(r[0]).encode(), json.dumps(doc, ensure_ascii=False).encode())
            )
        return out

    def mark_incidents_notified(self, keys: Sequence[str]) -> None:
        if keys:
            self._run(
                lambda c: c.execute(
                    "UPDATE incidents SET notified_at = now() WHERE incident_key = ANY(%s)",
                    (list(keys),),
                )
            )

    def _run(self, fn: Any) -> Any:
        try:
            return self._pg.transact(fn)
        except psycopg.Error as exc:
            raise StoreError(f"CRM store: {exc}") from exc
