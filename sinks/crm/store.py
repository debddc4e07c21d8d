"""PostgreSQL adapter of the CRM store. psycopg errors become StoreError here."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from core.errors import StoreError
from core.pg import PgConnection, ping
from core.store.numbering import day_prefix_length, format_number, reserve_numbers
from models import FeedbackTriaged, Ticket
from models.vocabulary import INITIAL_STATE
from sinks.crm.plan import Merge, New, Stored, Urgency, plan_batch, repeat_targets

_ACTOR = "tingjian-sink"

_TICKET_COPY_COLUMNS = (
    "id, ticket_no, channel, source_id, submitted_at, customer_name, customer_phone,"
    " customer_email, customer_account, customer_segment, customer_key, subject, content,"
    " normalized_text, summary, type, priority, sentiment, sentiment_score, topics, keywords,"
    " department, type_confidence, priority_confidence, needs_review, model_version,"
    " escalations, repeat_count, incident, ack_due_at, first_response_due_at, resolve_due_at,"
    " update_every_hours, queue, entities, attachments, metadata, head_labels, signals,"
    " related_to"
)
_FEEDBACK_COPY_COLUMNS = (
    "ticket_id, channel, source_id, received_at, content, merged, feedback_no, merge_reasons,"
    " priority, ack_due_at, first_response_due_at, resolve_due_at, priority_before,"
    " ack_due_before, first_response_due_before, resolve_due_before"
)


# COPY rows carry arrays and JSON already as their text forms: psycopg then
# formats the whole row in C, where its list and Jsonb dumpers run in Python
# (a third of the sink's time for a batch of new tickets, profiled).
def _text_array(values: Sequence[str]) -> str:
    if not values:
        return "{}"
    return (
        "{"
        + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
        + "}"
    )


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) if value else "{}"


def _ticket_row(t: New) -> tuple[Any, ...]:
    item = t.item
    fb, tr, c, u = item.feedback, item.triage, item.feedback.customer, t.urgency
    return (
        t.ticket_id,
        t.ticket_no,
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
        u.priority,
        tr.sentiment,
        tr.sentiment_score,
        _text_array(tr.topics),
        _text_array(tr.keywords),
        tr.department,
        tr.type_confidence,
        tr.priority_confidence,
        tr.needs_review,
        tr.model_version,
        _text_array(t.escalations),
        t.repeat_count,
        t.incident,
        u.ack_due_at,
        u.first_response_due_at,
        u.resolve_due_at,
        tr.sla.update_every_hours,
        tr.sla.queue,
        _json(tr.entities),
        json.dumps([a.model_dump(mode="json") for a in fb.attachments], ensure_ascii=False)
        if fb.attachments
        else "[]",
        _json(fb.metadata),
        _json(tr.labels),
        _text_array(tr.signals),
        t.related_to,
    )


def _ticket_id(t: Stored | New) -> int:
    tid = t.ticket_id
    assert tid is not None  # given by the store before any row is written
    return tid


def _feedback_row(step: New | Merge) -> tuple[Any, ...]:
    fb, tr = step.item.feedback, step.item.triage
    own = Urgency.of(step.item)
    head: tuple[Any, ...]
    if isinstance(step, New):
        head = (step.ticket_id, False, step.ticket_no, "{}")
        before: tuple[Any, ...] = (None, None, None, None)
    else:
        b = step.before
        head = (_ticket_id(step.into), True, fb.feedback_no, _text_array(tr.merge_reasons))
        before = (b.priority, b.ack_due_at, b.first_response_due_at, b.resolve_due_at)
    return (
        head[0],
        fb.channel,
        fb.source_id,
        fb.received_at,
        fb.text,
        *head[1:],
        own.priority,
        own.ack_due_at,
        own.first_response_due_at,
        own.resolve_due_at,
        *before,
    )


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

        The batch is written set-based (a few statements, COPY for the rows).
        If the database refuses that for its data (DataError, IntegrityError),
        the batch is written again item by item, each in its own savepoint, and
        an item refused alone is handed to ``on_rejected`` (the dead-letter
        topic) before the transaction commits: one bad item must not block its
        partition forever. Connection failures abort the whole batch, to be
        retried."""
        conn = self.connection()
        rejected: list[tuple[FeedbackTriaged, Exception]] = []
        try:
            with conn.transaction(), conn.cursor() as cur:
                try:
                    with conn.transaction():  # a savepoint for the set-based write
                        counts = self._store_set(cur, items)
                except (psycopg.DataError, psycopg.IntegrityError):
                    counts = (0, 0, 0)
                    for item in items:
                        try:
                            with conn.transaction():  # a savepoint per item
                                one = self._store_set(cur, [item])
                        except (psycopg.DataError, psycopg.IntegrityError) as exc:
                            if on_rejected is None:
                                raise
                            rejected.append((item, exc))
                            continue
                        counts = (counts[0] + one[0], counts[1] + one[1], counts[2] + one[2])
                if rejected and on_rejected is not None:
                    on_rejected(rejected)  # raises if the DLQ write fails: all rolls back
                if offsets:
                    keys = sorted(offsets)
                    cur.execute(
                        "INSERT INTO sink_offsets (consumer_group, topic, partition, next_offset)"
                        " SELECT %s, * FROM unnest(%s::text[], %s::int[], %s::bigint[])"
                        " ON CONFLICT (consumer_group, topic, partition) DO UPDATE"
                        " SET next_offset = GREATEST(sink_offsets.next_offset, EXCLUDED.next_offset),"
                        "     updated_at = now()",
                        (
                            group,
                            [t for t, _ in keys],
                            [p for _, p in keys],
                            [offsets[k] for k in keys],
                        ),
                    )
        except psycopg.Error as exc:
            raise StoreError(f"CRM store write failed: {type(exc).__name__}: {exc}") from exc
        return counts

    def _store_set(
        self, cur: psycopg.Cursor, items: Sequence[FeedbackTriaged]
    ) -> tuple[int, int, int]:
        if not items:
            return 0, 0, 0
        stored = self._stored_keys(
            cur, {i.feedback.source_key for i in items} | repeat_targets(items)
        )
        wanted = {stored[k] for k in repeat_targets(items) if k in stored}
        p = plan_batch(items, stored, self._lock_tickets(cur, wanted))
        new = p.new
        self._number(cur, new)
        if new:
            ids = cur.execute(
                "SELECT nextval(pg_get_serial_sequence('tickets', 'id'))"
                " FROM generate_series(1, %s)",
                (len(new),),
            ).fetchall()
            for t, (tid,) in zip(new, ids, strict=True):
                t.ticket_id = int(tid)
            with cur.copy(f"COPY tickets ({_TICKET_COPY_COLUMNS}) FROM STDIN") as cp:
                for t in new:
                    cp.write_row(_ticket_row(t))
        touched = p.touched()
        if touched:
            cur.execute(
                "UPDATE tickets t SET repeat_count = t.repeat_count + u.n,"
                " escalations = t.escalations || ARRAY(SELECT jsonb_array_elements_text(u.esc)),"
                " incident = t.incident OR u.inc, priority = u.p, ack_due_at = u.a,"
                " first_response_due_at = u.f, resolve_due_at = u.r"
                " FROM unnest(%s::bigint[], %s::int[], %s::jsonb[], %s::bool[], %s::text[],"
                " %s::timestamptz[], %s::timestamptz[], %s::timestamptz[]) AS u(id, n, esc, inc, p, a, f, r)"
                " WHERE t.id = u.id",
                (
                    [s.ticket_id for s in touched],
                    [s.merges for s in touched],
                    [Jsonb(s.escalations) for s in touched],
                    [s.incident for s in touched],
                    [s.urgency.priority for s in touched],
                    [s.urgency.ack_due_at for s in touched],
                    [s.urgency.first_response_due_at for s in touched],
                    [s.urgency.resolve_due_at for s in touched],
                ),
            )
        if not p.steps:
            return 0, 0, p.skipped
        with cur.copy(f"COPY ticket_feedback ({_FEEDBACK_COPY_COLUMNS}) FROM STDIN") as cp:
            for step in p.steps:
                cp.write_row(_feedback_row(step))
        with cur.copy(
            "COPY ticket_events (ticket_id, actor, from_state, to_state, note) FROM STDIN"
        ) as cp:
            for step in p.steps:
                fb = step.item.feedback
                if isinstance(step, New):
                    cp.write_row(
                        (
                            step.ticket_id,
                            _ACTOR,
                            None,
                            INITIAL_STATE,
                            f"registered from {fb.channel}",
                        )
                    )
                else:
                    state = step.into.state if isinstance(step.into, Stored) else INITIAL_STATE
                    cp.write_row(
                        (
                            _ticket_id(step.into),
                            _ACTOR,
                            state,
                            state,
                            f"merged duplicate {fb.channel}:{fb.source_id}",
                        )
                    )
        return len(new), len(p.steps) - len(new), p.skipped

    @staticmethod
    def _stored_keys(cur: psycopg.Cursor, keys: set[str]) -> dict[str, int]:
        """Source key -> ticket id, for the keys already stored."""
        pairs = [k.partition(":") for k in sorted(keys)]
        rows = cur.execute(
            "SELECT f.channel, f.source_id, f.ticket_id FROM ticket_feedback f"
            " JOIN unnest(%s::text[], %s::text[]) AS k(channel, source_id)"
            " ON f.channel = k.channel AND f.source_id = k.source_id",
            ([c for c, _, _ in pairs], [s for _, _, s in pairs]),
        ).fetchall()
        return {f"{c}:{s}": int(t) for c, s, t in rows}

    @staticmethod
    def _lock_tickets(cur: psycopg.Cursor, ids: set[int]) -> dict[int, Stored]:
        """The tickets repeats point to, locked (in id order: no deadlock between
        workers) so their state and priority hold until the batch commits."""
        if not ids:
            return {}
        rows = cur.execute(
            "SELECT id, state, priority, ack_due_at, first_response_due_at, resolve_due_at"
            " FROM tickets WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            (sorted(ids),),
        ).fetchall()
        return {int(r[0]): Stored(int(r[0]), r[1], Urgency(r[2], r[3], r[4], r[5])) for r in rows}

    def _number(self, cur: psycopg.Cursor, new: Sequence[New]) -> None:
        """Numbers for the new tickets as one block per day, in the batch's
        order, from the per-day row (its lock holds until commit and rolls back
        with the batch: gap-free). A number told to the customer is kept."""
        per_day: dict[date, list[New]] = {}
        for t in new:
            if t.item.feedback.feedback_no:
                t.ticket_no = t.item.feedback.feedback_no
            else:
                day = t.item.feedback.received_at.astimezone(self._tz).date()
                per_day.setdefault(day, []).append(t)
        if not per_day:
            return
        days = sorted(per_day)  # rows locked in day order: no deadlock between workers
        for day, last in reserve_numbers(cur, {d: len(per_day[d]) for d in days}).items():
            first = last - len(per_day[day]) + 1
            for k, t in enumerate(per_day[day]):
                t.ticket_no = format_number(self._fmt, day, first + k)

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
