"""The ticket desk: what the ticket API reads and changes in the CRM store.
Every change locks its ticket row (NOWAIT: a concurrent change is refused, never
lost), checks the caller's copy (``version``), and writes its event in the
same transaction."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.types.json import Jsonb

from core.errors import AccessDenied, ConcurrentChange, Conflict, NotFound, StoreError
from core.pg import PgConnection
from core.privacy import mask_account, mask_email, mask_phone, mask_text
from core.store.numbering import next_number
from crm.auth import Principal, Role, new_token, token_hash
from crm.lifecycle import (
    RATINGS,
    SATISFACTION_STATES,
    allowed_next,
    check_transition,
    handling_hours,
)
from models.vocabulary import INITIAL_STATE, PRIORITIES, SENTIMENTS, TYPES

LIST_COLUMNS = (
    "id, ticket_no, channel, submitted_at, customer_name, customer_phone, customer_email,"
    " customer_account, summary, type, priority, sentiment, department, assignee, state,"
    " needs_review, repeat_count, incident, ack_due_at, first_response_due_at,"
    " resolve_due_at, version"
)
DETAIL_COLUMNS = LIST_COLUMNS + (
    ", subject, content, sentiment_score, topics, keywords, type_confidence,"
    " priority_confidence, model_version, escalations, signals, solution, satisfaction,"
    " acknowledged_at, first_response_at, resolved_at, archived_at, update_every_hours, queue"
)
_DEFAULT_TZ = ZoneInfo("Asia/Shanghai")  # config/defaults; the service passes its own
TOPICS = ("产品质量", "服务体验", "物流配送", "价格争议", "售后支持", "账户与支付")


@dataclass(frozen=True)
class Filters:
    department: str | None = None
    state: str | None = None
    priority: str | None = None
    needs_review: bool | None = None
    overdue: bool | None = None
    q: str | None = None
    limit: int = 50
    cursor: int | None = None  # the last id of the previous page
    # "newest" (pages by cursor) or "urgency": overdue first, then by the
    # next SLA deadline (the agents' queue; one page).
    order: str = "newest"


class TicketDesk:
    def __init__(
        self,
        dsn: str,
        ticket_number_format: str = "CRM{date:%Y%m%d}{seq:04d}",
        timezone: ZoneInfo = _DEFAULT_TZ,
    ) -> None:
        self._fmt, self._tz = ticket_number_format, timezone
        self._pg = PgConnection(dsn, what="CRM store")
        # The API calls from its thread pool; one connection, one transaction at a time.
        self._lock_conn = threading.Lock()

    def close(self) -> None:
        self._pg.close()

    # ------------------------------------------------------------------ tokens

    def create_token(self, name: str, role: Role, department: str | None) -> str:
        if role == "agent" and not department:
            raise Conflict("an agent token needs a department")
        token = new_token()
        self._run(
            lambda c: c.execute(
                "INSERT INTO api_tokens (name, role, department, token_sha256)"
                " VALUES (%s, %s, %s, %s)",
                (name, role, department if role == "agent" else None, token_hash(token)),
            )
        )
        return token

    def principal(self, token: str) -> Principal | None:
        row = self._run(
            lambda c: c.execute(
                "SELECT name, role, department FROM api_tokens"
                " WHERE token_sha256 = %s AND revoked_at IS NULL",
                (token_hash(token),),
            ).fetchone()
        )
        return Principal(str(row[0]), row[1], row[2]) if row else None

    # ------------------------------------------------------------------- reads

    def list_tickets(self, who: Principal, f: Filters) -> list[dict[str, Any]]:
        if who.role == "agent":
            if f.department and f.department != who.department:
                raise AccessDenied(f"an agent of {who.department} sees only its tickets")
            f = Filters(**{**f.__dict__, "department": who.department})
        where: list[str] = ["true"]
        args: list[Any] = []
        for col, val in (
            ("department", f.department),
            ("state", f.state),
            ("priority", f.priority),
        ):
            if val:
                where.append(f"{col} = %s")
                args.append(val)
        if f.needs_review is not None:
            where.append("needs_review = %s")
            args.append(f.needs_review)
        if f.overdue:
            where.append(
                "state NOT IN ('已完成', '已归档') AND (resolve_due_at < now()"
                " OR (acknowledged_at IS NULL AND ack_due_at < now()))"
            )
        if f.q:
            where.append("(summary ILIKE %s OR content ILIKE %s OR ticket_no = %s)")
            like = "%" + f.q.replace("%", r"\%").replace("_", r"\_") + "%"
            args += [like, like, f.q]
        if f.cursor:
            where.append("id < %s")
            args.append(f.cursor)
        order = "id DESC"
        if f.order == "urgency":
            due = "CASE WHEN acknowledged_at IS NULL THEN ack_due_at ELSE resolve_due_at END"
            order = (
                "(state IN ('已完成', '已归档')), "
                f"({due} < now()) DESC NULLS LAST, {due} ASC NULLS LAST, priority, id DESC"
            )
        sql = (
            f"SELECT {LIST_COLUMNS} FROM tickets WHERE {' AND '.join(where)}"
            f" ORDER BY {order} LIMIT %s"
        )
        rows = self._run(lambda c: c.execute(sql, (*args, f.limit)).fetchall())
        names = [n.strip() for n in LIST_COLUMNS.split(",")]
        return [self._view(dict(zip(names, r, strict=True)), who) for r in rows]

    def get_ticket(self, who: Principal, ticket_no: str) -> dict[str, Any]:
        def read(c: psycopg.Connection) -> dict[str, Any]:
            names = [n.strip() for n in DETAIL_COLUMNS.split(",")]
            row = c.execute(
                f"SELECT {DETAIL_COLUMNS} FROM tickets WHERE ticket_no = %s", (ticket_no,)
            ).fetchone()
            if row is None:
                raise NotFound(f"no ticket {ticket_no}")
            t = dict(zip(names, row, strict=True))
            who.check_department(t["department"])
            t["events"] = [
                {"at": r[0], "actor": r[1], "kind": r[2], "from": r[3], "to": r[4], "note": r[5]}
                for r in c.execute(
                    "SELECT at, actor, kind, from_state, to_state, note FROM ticket_events"
                    " WHERE ticket_id = %s ORDER BY id",
                    (t["id"],),
                ).fetchall()
            ]
            t["feedback"] = [
                {
                    "channel": r[0],
                    "source_id": r[1],
                    "received_at": r[2],
                    "content": r[3],
                    "merged": r[4],
                    "merge_reasons": list(r[5]),
                }
                for r in c.execute(
                    "SELECT channel, source_id, received_at, content, merged, merge_reasons"
                    " FROM ticket_feedback"
                    " WHERE ticket_id = %s ORDER BY received_at",
                    (t["id"],),
                ).fetchall()
            ]
            return t

        t = self._run(read)
        return self._view(t, who, detail=True)

    def _view(self, t: dict[str, Any], who: Principal, detail: bool = False) -> dict[str, Any]:
        phone, email, account = (
            t.pop("customer_phone"),
            t.pop("customer_email"),
            t.pop("customer_account"),
        )
        clear = who.sees_contacts
        t["customer"] = {
            "name": t.pop("customer_name"),
            "phone": phone if clear or not phone else mask_phone(phone),
            "email": email if clear or not email else mask_email(email),
            "account": account if clear or not account else mask_account(account),
        }
        t["sla"] = {
            "acknowledge_by": t.pop("ack_due_at"),
            "first_response_by": t.pop("first_response_due_at"),
            "resolve_by": t.pop("resolve_due_at"),
        }
        t["allowed_next"] = list(allowed_next(t["state"]))
        if detail:
            t["sla"]["update_every_hours"] = t.pop("update_every_hours")
            t["sla"]["queue"] = t.pop("queue")
            t["handling_hours"] = handling_hours(t["submitted_at"], t["resolved_at"])
            if not clear:
                t["content"] = mask_text(t["content"])
                for fb in t["feedback"]:
                    fb["content"] = mask_text(fb["content"])
        t["cursor"] = t.pop("id")  # pages go on below it
        return t

    # ----------------------------------------------------------------- changes

    def transition(
        self,
        who: Principal,
        ticket_no: str,
        to: str,
        *,
        note: str | None = None,
        assignee: str | None = None,
        solution: str | None = None,
        department: str | None = None,
        version: int | None = None,
    ) -> dict[str, Any]:
        def change(c: psycopg.Connection) -> None:
            t = self._lock(c, who, ticket_no, version)
            state = t["state"]
            check_transition(
                state, to, assignee=assignee or t["assignee"], note=note, solution=solution
            )
            sets = ["state = %s"]
            args: list[Any] = [to]
            if department and department != t["department"]:
                who.check_reassign()
                sets.append("department = %s")
                args.append(department)
            if assignee:
                sets.append("assignee = %s")
                args.append(assignee)
            if solution:
                sets.append("solution = %s")
                args.append(solution)
            stamp = {
                "已确认": "acknowledged_at = COALESCE(acknowledged_at, now())",
                "处理中": "first_response_at = COALESCE(first_response_at, now())",
                "已完成": "resolved_at = now()",
                "已归档": "archived_at = now()",
            }.get(to)
            if stamp:
                sets.append(stamp)
            if to == "处理中" and state in ("待客户确认", "已完成"):
                sets.append("resolved_at = NULL")  # reopened
            if to == "新建":
                sets.append("assignee = NULL")  # 退回: back to dispatch
            self._update(c, t["id"], sets, args)
            self._event(c, t["id"], who, "state", state, to, note)

        self._run(change)
        return self.get_ticket(who, ticket_no)

    def add_note(
        self, who: Principal, ticket_no: str, note: str, version: int | None = None
    ) -> dict[str, Any]:
        def change(c: psycopg.Connection) -> None:
            t = self._lock(c, who, ticket_no, version)
            self._update(c, t["id"], ["first_response_at = COALESCE(first_response_at, now())"], [])
            self._event(c, t["id"], who, "note", t["state"], t["state"], note)

        self._run(change)
        return self.get_ticket(who, ticket_no)

    def satisfaction(
        self,
        who: Principal,
        ticket_no: str,
        rating: str,
        comment: str | None = None,
        version: int | None = None,
    ) -> dict[str, Any]:
        if rating not in RATINGS:
            raise Conflict(f"rating must be one of {', '.join(RATINGS)}")

        def change(c: psycopg.Connection) -> None:
            t = self._lock(c, who, ticket_no, version)
            state = t["state"]
            if state not in SATISFACTION_STATES:
                raise Conflict(
                    f"satisfaction is asked in {' or '.join(SATISFACTION_STATES)}, not {state}"
                )
            sets, args = ["satisfaction = %s"], [rating]
            to = state
            if rating == "不满意":  # SPEC §7: not satisfied, the ticket is reopened
                to = "处理中"
                sets += ["state = %s", "resolved_at = NULL"]
                args.append(to)
            self._update(c, t["id"], sets, args)
            self._event(
                c,
                t["id"],
                who,
                "satisfaction",
                state,
                to,
                f"{rating}" + (f": {comment}" if comment else ""),
            )

        self._run(change)
        return self.get_ticket(who, ticket_no)

    def correct_labels(
        self, who: Principal, ticket_no: str, changes: Mapping[str, Any], version: int | None = None
    ) -> dict[str, Any]:
        allowed = {"type": TYPES, "priority": PRIORITIES, "sentiment": SENTIMENTS}
        unknown = set(changes) - {*allowed, "topics"}
        if unknown or not changes:
            raise Conflict(
                f"correctable labels: type, priority, sentiment, topics (got {sorted(changes)})"
            )
        for k, vocab in allowed.items():
            if k in changes and changes[k] not in vocab:
                raise Conflict(f"{k} must be one of {', '.join(vocab)}")
        if "topics" in changes and (
            not isinstance(changes["topics"], list) or not set(changes["topics"]) <= set(TOPICS)
        ):
            raise Conflict(f"topics must be a list of {', '.join(TOPICS)}")

        def change(c: psycopg.Connection) -> None:
            t = self._lock(c, who, ticket_no, version)
            row = c.execute(
                "SELECT type, priority, sentiment, topics, model_version FROM tickets WHERE id = %s",
                (t["id"],),
            ).fetchone()
            assert row is not None
            original = {
                "type": row[0],
                "priority": row[1],
                "sentiment": row[2],
                "topics": list(row[3]),
            }
            corrected = {**original, **changes}
            c.execute(
                "INSERT INTO label_corrections (ticket_id, actor, model_version, original, corrected)"
                " VALUES (%s, %s, %s, %s, %s)",
                (t["id"], who.actor, row[4], Jsonb(original), Jsonb(corrected)),
            )
            sets = [f"{k} = %s" for k in changes] + ["needs_review = false"]
            self._update(c, t["id"], sets, [changes[k] for k in changes])
            diff = ", ".join(f"{k} {original[k]}→{corrected[k]}" for k in changes)
            self._event(c, t["id"], who, "labels", t["state"], t["state"], diff)

        self._run(change)
        return self.get_ticket(who, ticket_no)

    def unmerge(
        self, who: Principal, ticket_no: str, channel: str, source_id: str, reason: str
    ) -> dict[str, Any]:
        """Undo a merge: the merged feedback becomes a new ticket of its own
        (新建, related_to the old one, the old ticket's labels as a start, marked
        for review), the old ticket counts one repeat less; both get an event
        naming the merge reasons undone. Returns the new ticket."""
        if not reason.strip():
            raise Conflict("a reason is required to undo a merge")
        new_no: list[str] = []

        def change(c: psycopg.Connection) -> None:
            t = self._lock(c, who, ticket_no, None)
            row = c.execute(
                "SELECT ticket_id, merged, merge_reasons, received_at, content, feedback_no,"
                " seq, stored_at, priority, ack_due_at, first_response_due_at, resolve_due_at,"
                " priority_before, ack_due_before, first_response_due_before, resolve_due_before"
                " FROM ticket_feedback WHERE channel = %s AND source_id = %s FOR UPDATE",
                (channel, source_id),
            ).fetchone()
            if row is None:
                raise NotFound(f"no feedback {channel}:{source_id}")
            if row[0] != t["id"]:
                raise Conflict(f"{channel}:{source_id} is not merged into {ticket_no}")
            if not row[1]:
                raise Conflict(f"{channel}:{source_id} is the first feedback of {ticket_no}")
            reasons, received_at, content, fb_no = list(row[2]), row[3], row[4], row[5]
            taken = (
                fb_no
                and c.execute("SELECT 1 FROM tickets WHERE ticket_no = %s", (fb_no,)).fetchone()
            )
            with c.cursor() as cur:
                # The number the customer was told (web form), else the next of that day.
                number = (
                    fb_no
                    if fb_no and not taken
                    else next_number(cur, self._fmt, received_at.astimezone(self._tz).date())
                )
            # Deadlines keep the old ticket's offsets from submission (same labels).
            created = c.execute(
                "INSERT INTO tickets (ticket_no, channel, source_id, submitted_at, customer_name,"
                " customer_phone, customer_email, customer_account, customer_segment,"
                " customer_key, content, normalized_text, summary, type, priority, sentiment,"
                " sentiment_score, topics, keywords, department, type_confidence,"
                " priority_confidence, needs_review, model_version, ack_due_at,"
                " first_response_due_at, resolve_due_at, update_every_hours, queue,"
                " head_labels, state, related_to)"
                " SELECT %s, %s, %s, %s, customer_name, customer_phone, customer_email,"
                " customer_account, customer_segment, customer_key, %s, %s, %s, type, priority,"
                " sentiment, sentiment_score, topics, keywords, department, type_confidence,"
                " priority_confidence, true, model_version,"
                " ack_due_at + (%s - submitted_at), first_response_due_at + (%s - submitted_at),"
                " resolve_due_at + (%s - submitted_at), update_every_hours, queue, head_labels,"
                " %s, id FROM tickets WHERE id = %s RETURNING id",
                (
                    number,
                    channel,
                    source_id,
                    received_at,
                    content,
                    content,
                    mask_text(content)[:80],
                    received_at,
                    received_at,
                    received_at,
                    INITIAL_STATE,
                    t["id"],
                ),
            ).fetchone()
            assert created is not None
            if row[8] is not None:  # the item's own priority and deadlines, as triaged
                c.execute(
                    "UPDATE tickets SET priority = %s, ack_due_at = %s,"
                    " first_response_due_at = %s, resolve_due_at = %s WHERE id = %s",
                    (*row[8:12], created[0]),
                )
            c.execute(
                "UPDATE ticket_feedback SET ticket_id = %s, merged = false,"
                " feedback_no = COALESCE(feedback_no, %s) WHERE channel = %s AND source_id = %s",
                (created[0], number, channel, source_id),
            )
            self._update(c, t["id"], ["repeat_count = GREATEST(repeat_count - 1, 0)"], [])
            restored = self._restore_priority(c, t["id"], row[6], row[7], row[12:16])
            why = "、".join(reasons) or "—"
            self._event(
                c,
                t["id"],
                who,
                "unmerge",
                t["state"],
                t["state"],
                f"split {channel}:{source_id} into {number} (merge reasons undone: {why}):"
                f" {reason}; {restored}",
            )
            self._event(
                c,
                int(created[0]),
                who,
                "unmerge",
                None,
                INITIAL_STATE,
                f"split from {ticket_no} (merge reasons undone: {why}): {reason}",
            )
            new_no.append(number)

        self._run(change)
        return self.get_ticket(who, new_no[0])

    def _restore_priority(
        self,
        c: psycopg.Connection,
        ticket_id: int,
        seq: int | None,
        merged_at: datetime,
        before: Sequence[Any],
    ) -> str:
        """After a merged item left the ticket: the priority and deadlines the
        ticket would have without it (what it had before that merge, then the
        merges after it replayed), unless an agent changed the priority since.
        Returns what happened, for the event."""
        row = c.execute(
            "SELECT priority, ack_due_at, first_response_due_at, resolve_due_at"
            " FROM tickets WHERE id = %s",
            (ticket_id,),
        ).fetchone()
        assert row is not None
        now = tuple(row)
        if before[0] is None or seq is None:
            return f"priority {now[0]} kept: the merge did not record the priority before it"
        changed = c.execute(
            "SELECT 1 FROM label_corrections WHERE ticket_id = %s AND at >= %s"
            " AND corrected->>'priority' IS DISTINCT FROM original->>'priority' LIMIT 1",
            (ticket_id, merged_at),
        ).fetchone()
        if changed:
            return f"priority {now[0]} kept: an agent changed it after the merge"
        would = tuple(before)
        for later in c.execute(
            "SELECT seq, priority, ack_due_at, first_response_due_at, resolve_due_at,"
            " priority_before, ack_due_before, first_response_due_before, resolve_due_before"
            " FROM ticket_feedback WHERE ticket_id = %s AND merged AND seq > %s ORDER BY seq",
            (ticket_id, seq),
        ).fetchall():
            if tuple(later[5:9]) != would:
                # Its "before" counted the item just split off: what it is now.
                c.execute(
                    "UPDATE ticket_feedback SET priority_before = %s, ack_due_before = %s,"
                    " first_response_due_before = %s, resolve_due_before = %s WHERE seq = %s",
                    (*would, later[0]),
                )
            if later[1] is not None and later[1] < would[0]:  # "P1" < "P2", as the sink merges
                would = tuple(later[1:5])
        if would == now:
            return f"priority {now[0]} unchanged (the merge did not raise it)"
        self._update(
            c,
            ticket_id,
            [
                "priority = %s",
                "ack_due_at = %s",
                "first_response_due_at = %s",
                "resolve_due_at = %s",
            ],
            would,
        )
        return f"priority {now[0]}→{would[0]} restored (raised by the merge), with its deadlines"

    # ---------------------------------------------------------------- helpers

    def _lock(
        self, c: psycopg.Connection, who: Principal, ticket_no: str, version: int | None
    ) -> dict[str, Any]:
        try:
            row = c.execute(
                "SELECT id, state, department, assignee, version FROM tickets"
                " WHERE ticket_no = %s FOR UPDATE NOWAIT",
                (ticket_no,),
            ).fetchone()
        except psycopg.errors.LockNotAvailable as exc:
            raise ConcurrentChange(f"{ticket_no} is being changed by someone else; reload") from exc
        if row is None:
            raise NotFound(f"no ticket {ticket_no}")
        t = {
            "id": row[0],
            "state": row[1],
            "department": row[2],
            "assignee": row[3],
            "version": row[4],
        }
        who.check_department(t["department"])
        if version is not None and version != t["version"]:
            raise ConcurrentChange(
                f"{ticket_no} changed since version {version} (now {t['version']}); reload"
            )
        return t

    @staticmethod
    def _update(
        c: psycopg.Connection, ticket_id: int, sets: Sequence[str], args: Sequence[Any]
    ) -> None:
        c.execute(
            f"UPDATE tickets SET {', '.join([*sets, 'version = version + 1'])} WHERE id = %s",
            (*args, ticket_id),
        )

    @staticmethod
    def _event(
        c: psycopg.Connection,
        ticket_id: int,
        who: Principal,
        kind: str,
        from_state: str | None,
        to_state: str,
        note: str | None,
    ) -> None:
        c.execute(
            "INSERT INTO ticket_events (ticket_id, at, actor, kind, from_state, to_state, note)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (ticket_id, datetime.now(UTC), who.actor, kind, from_state, to_state, note),
        )

    def _run(self, fn: Any) -> Any:
        try:
            with self._lock_conn:
                return self._pg.transact(fn)
        except psycopg.Error as exc:
            raise StoreError(f"CRM store: {exc}") from exc
