"""PostgreSQL adapter of the CRM store. psycopg errors become StoreError here."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from core.errors import StoreError
from core.pg import PgConnection, ping
from core.store.numbering import day_prefix_length, next_number
from models import FeedbackTriaged, Ticket
from models.vocabulary import INITIAL_STATE

# Lifecycle states of a closed ticket (crm/sla.py CLOSED): a repeat is not merged there.
_CLOSED = ("已完成", "已归档")


class CrmStore:
    def __init__(self, dsn: str, ticket_number_format: str, timezone: ZoneInfo) -> None:
        self._dsn = dsn
        self._fmt = ticket_number_format
        self._tz = timezone
        self._pg = PgConnection(dsn, what="CRM store")

    def connection(self) -> psycopg.Connection:
        return self._pg.get()

    def close(self) -> None:
        self._pg.close()

    def ping(self) -> bool:
        return ping(self._dsn)

    # -- writes ------------------------------------------------------------------

    def write_batch(
        self,
        items: Sequence[FeedbackTriaged],
        group: str,
        offsets: dict[tuple[str, int], int],
        on_rejected: Callable[[list[tuple[FeedbackTriaged, Exception]]], None] | None = None,
    ) -> tuple[int, int, int]:
        """Store the batch and the offsets atomically. Returns (created, merged, skipped).

        An item the database refuses for its data (DataError, IntegrityError)
        is rolled back to its own savepoint and handed to ``on_rejected``
        (the dead-letter topic) before the transaction commits: one bad item
        must not block its partition forever. Connection failures abort the
        whole batch, to be retried."""
        conn = self.connection()
        created = merged = skipped = 0
        rejected: list[tuple[FeedbackTriaged, Exception]] = []
        try:
            with conn.transaction(), conn.cursor() as cur:
                for item in items:
                    try:
                        with conn.transaction():  # a savepoint per item
                            outcome = self._store_one(cur, item)
                    except (psycopg.DataError, psycopg.IntegrityError) as exc:
                        if on_rejected is None:
                            raise
                        rejected.append((item, exc))
                        continue
                    created += outcome == "created"
                    merged += outcome == "merged"
                    skipped += outcome == "skipped"
                if rejected and on_rejected is not None:
                    on_rejected(rejected)  # raises if the DLQ write fails: all rolls back
                for (topic, partition), nxt in offsets.items():
                    cur.execute(
                        "INSERT INTO sink_offsets (consumer_group, topic, partition, next_offset)"
                        " VALUES (%s, %s, %s, %s)"
                        " ON CONFLICT (consumer_group, topic, partition) DO UPDATE"
                        " SET next_offset = GREATEST(sink_offsets.next_offset, EXCLUDED.next_offset),"
                        "     updated_at = now()",
                        (group, topic, partition, nxt),
                    )
        except psycopg.Error as exc:
            raise StoreError(f"CRM store write failed: {type(exc).__name__}: {exc}") from exc
        return created, merged, skipped

    def _store_one(self, cur: psycopg.Cursor, item: FeedbackTriaged) -> str:
        fb, tr = item.feedback, item.triage
        cur.execute(
            "SELECT 1 FROM ticket_feedback WHERE channel = %s AND source_id = %s",
            (fb.channel, fb.source_id),
        )
        if cur.fetchone():
            return "skipped"  # redelivered or replayed: already stored
        if tr.duplicate_of:
            ch, _, sid = tr.duplicate_of.partition(":")
            cur.execute(
                "SELECT f.ticket_id, t.state FROM ticket_feedback f"
                " JOIN tickets t ON t.id = f.ticket_id WHERE f.channel = %s AND f.source_id = %s",
                (ch, sid),
            )
            row = cur.fetchone()
            if row and row[1] not in _CLOSED:
                self._merge(cur, int(row[0]), item)
                return "merged"
            if row:  # a repeat of a closed ticket: a new ticket related to it
                self._create(cur, item, related_to=int(row[0]))
                return "created"
            # The original never reached the store (quarantined, say): open a ticket.
        self._create(cur, item)
        return "created"

    def _merge(self, cur: psycopg.Cursor, ticket_id: int, item: FeedbackTriaged) -> None:
        fb, tr = item.feedback, item.triage
        cur.execute(
            "INSERT INTO ticket_feedback (ticket_id, channel, source_id, received_at, content, merged,"
            " feedback_no, merge_reasons) VALUES (%s, %s, %s, %s, %s, true, %s, %s)",
            (
                ticket_id,
                fb.channel,
                fb.source_id,
                fb.received_at,
                fb.text,
                fb.feedback_no,
                list(tr.merge_reasons),
            ),
        )
        # Keep the more urgent priority and its deadlines; count the repeat.
        cur.execute(
            "UPDATE tickets SET repeat_count = repeat_count + 1,"
            " escalations = escalations || %s::text[],"
            " incident = incident OR %s,"
            " priority = LEAST(priority, %s),"
            " ack_due_at = CASE WHEN %s < priority THEN %s ELSE ack_due_at END,"
            " first_response_due_at = CASE WHEN %s < priority THEN %s ELSE first_response_due_at END,"
            " resolve_due_at = CASE WHEN %s < priority THEN %s ELSE resolve_due_at END"
            " WHERE id = %s",
            (
                list(tr.escalations),
                tr.incident,
                tr.priority,
                tr.priority,
                tr.sla.acknowledge_by,
                tr.priority,
                tr.sla.first_response_by,
                tr.priority,
                tr.sla.resolve_by,
                ticket_id,
            ),
        )
        cur.execute(
            "INSERT INTO ticket_events (ticket_id, actor, from_state, to_state, note)"
            " SELECT id, 'tingjian-sink', state, state, %s FROM tickets WHERE id = %s",
            (f"merged duplicate {fb.channel}:{fb.source_id}", ticket_id),
        )

    def _create(
        self, cur: psycopg.Cursor, item: FeedbackTriaged, related_to: int | None = None
    ) -> None:
        fb, tr = item.feedback, item.triage
        ticket_no = fb.feedback_no or next_number(
            cur, self._fmt, fb.received_at.astimezone(self._tz).date()
        )
        c = fb.customer
        cur.execute(
            "INSERT INTO tickets (ticket_no, channel, source_id, submitted_at, customer_name,"
            " customer_phone, customer_email, customer_account, customer_segment, customer_key,"
            " subject, content, normalized_text, summary, type, priority, sentiment,"
            " sentiment_score, topics, keywords, department, type_confidence,"
            " priority_confidence, needs_review, model_version, escalations, repeat_count,"
            " incident, ack_due_at, first_response_due_at, resolve_due_at, update_every_hours,"
            " queue, entities, attachments, metadata, head_labels, signals)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
            " %s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
            (
                ticket_no,
                fb.channel,
                fb.source_id,
                fb.received_at,
                c.name,
                c.phone,
                c.email,
                c.account,
                c.segment,
                tr.customer_key,
                fb.subject,
                fb.text,
                item.normalized_text,
                tr.summary,
                tr.type,
                tr.priority,
                tr.sentiment,
                tr.sentiment_score,
                list(tr.topics),
                list(tr.keywords),
                tr.department,
                tr.type_confidence,
                tr.priority_confidence,
                tr.needs_review,
                tr.model_version,
                list(tr.escalations),
                tr.repeat_count,
                tr.incident,
                tr.sla.acknowledge_by,
                tr.sla.first_response_by,
                tr.sla.resolve_by,
                tr.sla.update_every_hours,
                tr.sla.queue,
                Jsonb({k: list(v) for k, v in tr.entities.items()}),
                Jsonb([a.model_dump() for a in fb.attachments]),
                Jsonb(json.loads(json.dumps(fb.metadata))),
                Jsonb(dict(tr.labels)),
                list(tr.signals),
            ),
        )
        row = cur.fetchone()
        assert row is not None
        ticket_id = int(row[0])
        cur.execute(
            "INSERT INTO ticket_feedback (ticket_id, channel, source_id, received_at, content, merged, feedback_no)"
            " VALUES (%s, %s, %s, %s, %s, false, %s)",
            (ticket_id, fb.channel, fb.source_id, fb.received_at, fb.text, ticket_no),
        )
        cur.execute(
            "INSERT INTO ticket_events (ticket_id, actor, from_state, to_state, note)"
            " VALUES (%s, 'tingjian-sink', NULL, %s, %s)",
            (ticket_id, INITIAL_STATE, f"registered from {fb.channel}"),
        )
        if related_to is not None:
            cur.execute(
                "UPDATE tickets SET related_to = %s, repeat_count = %s WHERE id = %s",
                (related_to, tr.repeat_count, ticket_id),
            )

    # -- reads -------------------------------------------------------------------

    _TICKET_COLUMNS = (
        "ticket_no, channel, source_id, submitted_at, customer_name, customer_phone,"
        " customer_email, subject, content, summary, type, priority, sentiment, sentiment_score,"
        " topics, department, state, type_confidence, priority_confidence, needs_review,"
        " model_version, repeat_count,"
        " ARRAY(SELECT f.channel || ':' || f.source_id FROM ticket_feedback f"
        "       WHERE f.ticket_id = tickets.id AND f.merged ORDER BY f.received_at),"
        " incident, ack_due_at, first_response_due_at, resolve_due_at"
    )

    def recent_tickets(self, limit: int) -> list[Ticket]:
        """The tickets with the highest numbers, highest first, as the ``Ticket``
        contract (contacts in clear: the caller masks them before they leave the
        store)."""
        conn = self.connection()
        day = day_prefix_length(self._fmt)
        try:
            with conn.transaction():
                rows = conn.execute(
                    f"SELECT {self._TICKET_COLUMNS} FROM tickets ORDER BY left(ticket_no, %s)"
                    " DESC, length(ticket_no) DESC, ticket_no DESC LIMIT %s",
                    (day, limit),
                ).fetchall()
        except psycopg.Error as exc:
            raise StoreError(f"cannot read tickets: {exc}") from exc
        names = list(Ticket.model_fields)
        return [Ticket.model_validate(dict(zip(names, r, strict=True))) for r in rows]

    def stored_offsets(
        self, group: str, partitions: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        conn = self.connection()
        try:
            with conn.transaction():
                rows = conn.execute(
                    "SELECT topic, partition, next_offset FROM sink_offsets WHERE consumer_group = %s",
                    (group,),
                ).fetchall()
        except psycopg.Error as exc:
            raise StoreError(f"cannot read sink offsets: {exc}") from exc
        wanted = set(partitions)
        return {(t, p): int(o) for t, p, o in rows if (t, p) in wanted}
