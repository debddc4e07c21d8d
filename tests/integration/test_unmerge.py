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
from crm.store import TicketDesk
from models import Customer, FeedbackReceived, FeedbackTriaged
from sinks.crm.store import CrmStore
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
