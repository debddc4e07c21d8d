"""Undoing a merge through the ticket API against a real PostgreSQL: the merged
feedback becomes its own ticket related to the old one, counts and events move,
and every refusal (401, 403, 404, 409)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from starlette.testclient import TestClient

from config import load_business_rules, load_settings
from crm.api.app import ApiOptions, create_app
from crm.auth import Principal
from crm.store import TicketDesk
from models import Customer, FeedbackReceived, FeedbackTriaged
from sinks.crm.store import CrmStore
from tests.integration.test_sink_batch import item
from triage.classifier import KeywordClassifier
from triage.dedup import Deduplicator
from triage.dedup_store import PostgresDedupStore
from triage.engine import TriageEngine

TZ = ZoneInfo("Asia/Shanghai")
FMT = "CRM{date:%Y%m%d}{seq:04d}"
T0 = datetime.now(UTC) - timedelta(hours=1)


def _fb(sid: str, text: str) -> FeedbackReceived:
    return FeedbackReceived(
        channel="email",
        source_id=sid,
        received_at=T0,
        text=text,
        customer=Customer(phone="13800000001"),
    )


def _merged(dsn: str) -> str:
    engine = TriageEngine(
        load_business_rules(load_settings().business),
        KeywordClassifier(),
        "k" * 16,
        TZ,
        dedup=Deduplicator(store=PostgresDedupStore(dsn)),
    )
    items = [
        *engine.triage_batch([_fb("m1", "发票一直开不出来，提示税号错误")], T0),
        *engine.triage_batch([_fb("m2", "发票还是开不出来，一直提示税号错误")], T0),
    ]
    assert all(isinstance(i, FeedbackTriaged) for i in items)
    store = CrmStore(dsn, FMT, TZ)
    assert store.write_batch(items, "g", {}) == (1, 1, 0)  # type: ignore[arg-type]
    store.close()
    with psycopg.connect(dsn) as c:
        row = c.execute("SELECT ticket_no FROM tickets").fetchone()
    assert row is not None
    return str(row[0])


def test_undo_a_merge_through_the_api(fresh_db: str) -> None:
    old_no = _merged(fresh_db)
    desk = TicketDesk(fresh_db, FMT, TZ)
    app = create_app(desk, ApiOptions(), lambda: {"ok": True})
    with psycopg.connect(fresh_db) as c:
        dept = c.execute("SELECT department FROM tickets").fetchone()[0]  # type: ignore[index]
    lead = desk.create_token("lead", "lead", None)
    own = desk.create_token("a1", "agent", dept)
    other = desk.create_token("a2", "agent", "不存在部")
    url = f"/v1/tickets/{old_no}/feedback/email/m2/unmerge"
    h = lambda tok: {"Authorization": f"Bearer {tok}"}  # noqa: E731
    with TestClient(app) as client:
        detail = client.get(f"/v1/tickets/{old_no}", headers=h(lead)).json()
        (merged,) = [f for f in detail["feedback"] if f["merged"]]
        assert merged["merge_reasons"]  # the agent sees why
        assert client.post(url, json={"reason": "x"}).status_code == 401
        assert client.post(url, json={"reason": "x"}, headers=h(other)).status_code == 403
        assert (
            client.post(
                f"/v1/tickets/{old_no}/feedback/email/nope/unmerge",
                json={"reason": "x"},
                headers=h(own),
            ).status_code
            == 404
        )
        assert (
            client.post(
                f"/v1/tickets/{old_no}/feedback/email/m1/unmerge",
                json={"reason": "x"},
                headers=h(own),
            ).status_code
            == 409
        )  # the first feedback
        r = client.post(url, json={"reason": "不同的问题"}, headers=h(own))
        assert r.status_code == 200, r.text
        new = r.json()
        assert new["ticket_no"] != old_no and new["state"] == "新建" and new["needs_review"]
        assert [f["source_id"] for f in new["feedback"]] == ["m2"]
        assert "发票还是开不出来" in new["content"]
        assert any("split from " + old_no in (e["note"] or "") for e in new["events"])
        again = client.post(url, json={"reason": "x"}, headers=h(own))
        assert again.status_code == 409  # no longer merged into the old ticket
        old = client.get(f"/v1/tickets/{old_no}", headers=h(lead)).json()
    desk.close()
    assert old["repeat_count"] == 0
    assert [f["source_id"] for f in old["feedback"]] == ["m1"]
    (ev,) = [e for e in old["events"] if e["kind"] == "unmerge"]
    assert ev["actor"] == "agent:a1" and "不同的问题" in ev["note"]
    assert "merge reasons undone: " + "、".join(merged["merge_reasons"]) in ev["note"]
    with psycopg.connect(fresh_db) as c:
        rel = c.execute(
            "SELECT n.related_to = o.id, n.type = o.type FROM tickets n, tickets o"
            " WHERE n.ticket_no = %s AND o.ticket_no = %s",
            (new["ticket_no"], old_no),
        ).fetchone()
    assert rel == (True, True)


# -- issue 9: undoing a merge restores the priority the merge raised ----------


def _desk_with(dsn: str, items: list[FeedbackTriaged]) -> tuple[TicketDesk, str, Principal]:
    store = CrmStore(dsn, FMT, TZ)
    store.write_batch(items, "g", {})
    store.close()
    desk = TicketDesk(dsn, FMT, TZ)
    with psycopg.connect(dsn) as c:
        row = c.execute("SELECT ticket_no FROM tickets WHERE source_id = 'u-a'").fetchone()
    assert row is not None
    return desk, str(row[0]), Principal("lead", "lead", None)


def _urgency(dsn: str, sid: str) -> tuple[object, ...]:
    with psycopg.connect(dsn) as c:
        row = c.execute(
            "SELECT t.priority, t.ack_due_at, t.first_response_due_at, t.resolve_due_at"
            " FROM tickets t JOIN ticket_feedback f ON f.ticket_id = t.id"
            " WHERE f.source_id = %s",
            (sid,),
        ).fetchone()
    assert row is not None
    return tuple(row)


def _own(i: FeedbackTriaged) -> tuple[object, ...]:
    s = i.triage.sla
    return (i.triage.priority, s.acknowledge_by, s.first_response_by, s.resolve_by)


def _unmerge_note(detail: dict[str, object]) -> str:
    (ev,) = [e for e in detail["events"] if e["kind"] == "unmerge"]  # type: ignore[attr-defined]
    return str(ev["note"])


def test_unmerge_restores_the_priority_and_deadlines_the_merge_raised(fresh_db: str) -> None:
    a, r1 = item("u-a", priority="P3"), item("u-r1", dup="u-a", priority="P1")
    desk, no, lead = _desk_with(fresh_db, [a, r1])
    assert _urgency(fresh_db, "u-a") == _own(r1)  # the merge raised it
    new = desk.unmerge(lead, no, "web_form", "u-r1", "另一个问题")
    assert _urgency(fresh_db, "u-a") == _own(a)  # back, with its own deadlines
    assert _urgency(fresh_db, "u-r1") == _own(r1)  # the split ticket has the item's own
    assert new["priority"] == "P1"
    note = _unmerge_note(desk.get_ticket(lead, no))
    assert "priority P1→P3 restored" in note
    desk.close()


def test_unmerge_replays_the_merges_after_it(fresh_db: str) -> None:
    a = item("u-a", priority="P4")
    r1 = item("u-r1", dup="u-a", priority="P1")
    r2 = item("u-r2", dup="u-a", priority="P2")
    r3 = item("u-r3", dup="u-a", priority="P3")
    desk, no, lead = _desk_with(fresh_db, [a, r1])
    CrmStore(fresh_db, FMT, TZ).write_batch([r2, r3], "g", {})
    assert _urgency(fresh_db, "u-a") == _own(r1)
    desk.unmerge(lead, no, "web_form", "u-r1", "不同问题")
    # without r1: P4, then r2 raised it to P2 (its deadlines), r3 did not
    assert _urgency(fresh_db, "u-a") == _own(r2)
    desk.unmerge(lead, no, "web_form", "u-r3", "不同问题")
    assert _urgency(fresh_db, "u-a") == _own(r2)
    assert (
        "priority P2 unchanged"
        in [e["note"] for e in desk.get_ticket(lead, no)["events"] if e["kind"] == "unmerge"][-1]
    )
    desk.close()


def test_unmerge_keeps_a_priority_an_agent_changed_since_the_merge(fresh_db: str) -> None:
    a, r1 = item("u-a", priority="P3"), item("u-r1", dup="u-a", priority="P1")
    desk, no, lead = _desk_with(fresh_db, [a, r1])
    desk.correct_labels(lead, no, {"priority": "P2"})
    before = _urgency(fresh_db, "u-a")
    desk.unmerge(lead, no, "web_form", "u-r1", "另一个问题")
    assert _urgency(fresh_db, "u-a") == before and before[0] == "P2"
    assert "priority P2 kept: an agent changed it after the merge" in _unmerge_note(
        desk.get_ticket(lead, no)
    )
    desk.close()
