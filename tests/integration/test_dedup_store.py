"""Dedup state in PostgreSQL: survives a restart, merges into one ticket."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg

from config import load_business_rules, load_settings
from models import Customer, FeedbackReceived, FeedbackTriaged
from sinks.crm.store import CrmStore
from triage.classifier import KeywordClassifier
from triage.dedup import Deduplicator
from triage.dedup_store import PostgresDedupStore
from triage.engine import TriageEngine

RULES = load_business_rules(load_settings().business)
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime.now(UTC) - timedelta(hours=1)


def engine(dsn: str) -> TriageEngine:
    return TriageEngine(
        RULES, KeywordClassifier(), "k" * 16, TZ, dedup=Deduplicator(store=PostgresDedupStore(dsn))
    )


def fb(sid: str, text: str, phone: str) -> FeedbackReceived:
    return FeedbackReceived(
        channel="email", source_id=sid, received_at=T0, text=text, customer=Customer(phone=phone)
    )


def test_dedup_survives_restart_and_merges_into_one_ticket(fresh_db: str) -> None:
    first = engine(fresh_db).triage_batch(
        [fb("m1", "发票一直开不出来，提示税号错误", "13800000001")], T0
    )
    # a new engine = a restarted triage worker: state comes from PostgreSQL
    again = engine(fresh_db).triage_batch(
        [
            fb("m2", "发票还是开不出来，一直提示税号错误", "13800000001"),
            fb("m3", "发票一直开不出来，提示税号错误", "13900000002"),
        ],
        T0,
    )
    replay = engine(fresh_db).triage_batch(
        [fb("m2", "发票还是开不出来，一直提示税号错误", "13800000001")], T0
    )
    items = [*first, *again]
    assert all(isinstance(i, FeedbackTriaged) for i in items)
    assert again[0].triage.duplicate_of == "email:m1" and again[0].triage.repeat_count == 1
    assert again[1].triage.duplicate_of is None  # another customer
    assert replay[0].triage.duplicate_of == "email:m1" and replay[0].triage.repeat_count == 1

    store = CrmStore(fresh_db, "CRM{date:%Y%m%d}{seq:04d}", TZ)
    assert store.write_batch(items, "g", {}) == (2, 1, 0)  # type: ignore[arg-type]
    with psycopg.connect(fresh_db) as c:
        rows = c.execute(
            "SELECT source_id, repeat_count FROM tickets ORDER BY source_id"
        ).fetchall()
        merged = c.execute("SELECT count(*) FROM ticket_feedback WHERE merged").fetchone()[0]
    assert rows == [("m1", 1), ("m3", 0)]
    assert merged == 1


def test_tickets_read_back_as_the_ticket_contract(fresh_db: str) -> None:
    e = engine(fresh_db)
    items = e.triage_batch(
        [
            fb("r1", "退款一直没有到账", "13800000009"),
            fb("r2", "退款还是没有到账，催一下", "13800000009"),
        ],
        T0,
    )
    store = CrmStore(fresh_db, "CRM{date:%Y%m%d}{seq:04d}", TZ)
    store.write_batch(items, "g", {})  # type: ignore[arg-type]
    (t,) = store.recent_tickets(10)
    assert t.source_id == "r1" and t.repeat_count == 1
    assert t.merged_source_ids == ("email:r2",)
    assert t.customer_phone == "13800000009" and t.state == "新建"


def test_repeat_of_a_closed_ticket_opens_a_related_one_with_reasons(fresh_db: str) -> None:
    store = CrmStore(fresh_db, "CRM{date:%Y%m%d}{seq:04d}", TZ)
    first = engine(fresh_db).triage_batch(
        [fb("c1", "发票一直开不出来，提示税号错误", "13800000009")], T0
    )
    second = engine(fresh_db).triage_batch(
        [fb("c2", "发票还是开不出来，一直提示税号错误", "13800000009")], T0
    )
    assert second[0].triage.merge_reasons  # type: ignore[union-attr]
    store.write_batch(first, "g", {})  # type: ignore[arg-type]
    with psycopg.connect(fresh_db) as c:
        c.execute("UPDATE tickets SET state = '已完成'")
    assert store.write_batch(second, "g", {}) == (1, 0, 0)  # type: ignore[arg-type]
    third = engine(fresh_db).triage_batch(
        [fb("c3", "税号错误发票开不出来的问题还没解决", "13800000009")], T0
    )
    store.write_batch(third, "g", {})  # type: ignore[arg-type]
    store.close()
    with psycopg.connect(fresh_db) as c:
        rows = c.execute(
            "SELECT source_id, related_to IS NOT NULL, repeat_count FROM tickets ORDER BY id"
        ).fetchall()
        reasons = c.execute(
            "SELECT merge_reasons FROM ticket_feedback WHERE source_id = 'c3'"
        ).fetchone()
    # c2 repeats a closed ticket: new, related, counted; c3 (root c1 closed) also a new related one
    assert rows[0] == ("c1", False, 0) and rows[1] == ("c2", True, 1)
    assert rows[2][1] and rows[2][2] == 2
    assert reasons is not None


def test_topics_are_stored_so_a_restarted_worker_still_sees_them(fresh_db: str) -> None:
    engine(fresh_db).triage_batch([fb("t1", "下单四天了一直没有发货，太失望了", "13800000003")], T0)
    with psycopg.connect(fresh_db) as c:
        (topics,) = c.execute(
            "SELECT topics FROM dedup_entries WHERE source_key = 'email:t1'"
        ).fetchone()
    assert topics == ["物流配送"]
    (b,) = engine(fresh_db).triage_batch(
        [fb("t2", "快递到今天都没揽收，太失望了，商家怎么回事", "13800000003")], T0
    )
    assert isinstance(b, FeedbackTriaged)
    assert b.triage.duplicate_of == "email:t1" and "topic" in b.triage.merge_reasons
