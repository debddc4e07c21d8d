"""Incidents in PostgreSQL: one burst seen by two triage workers (customers
split between them, as the topic's keys split them), one restarted mid-burst;
and the retention purge."""

import json
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from prometheus_client import REGISTRY

from config import load_business_rules, load_settings
from core.kafka import make_consumer
from models import Customer, FeedbackReceived, FeedbackTriaged
from sinks.crm.store import CrmStore
from tests.helpers import kafka_topics
from tingjian.incidents_tool import print_incidents
from tingjian.services import sla
from triage.classifier import KeywordClassifier
from triage.dedup import Deduplicator
from triage.dedup_store import PostgresDedupStore
from triage.engine import TriageEngine

RULES = load_business_rules(load_settings().business)
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime.now(UTC) - timedelta(minutes=30)
TEXT = "APP更新后一打开就闪退，重装也没用，客服电话也打不通"


def worker(dsn: str, **kw: object) -> TriageEngine:
    d = Deduplicator(store=PostgresDedupStore(dsn), incident_threshold=5, **kw)  # type: ignore[arg-type]
    return TriageEngine(RULES, KeywordClassifier(), "k" * 16, TZ, dedup=d)


def fb(n: int, at: datetime = T0) -> FeedbackReceived:
    return FeedbackReceived(
        channel="web_form",
        source_id=f"b{n}",
        received_at=at + timedelta(minutes=n),
        text=TEXT if n % 2 else TEXT + "！",
        customer=Customer(phone=f"1380000{n:04d}"),
    )


def test_burst_across_two_workers_and_a_restart_is_one_incident(fresh_db: str) -> None:
    a, b = worker(fresh_db), worker(fresh_db, incident_p1_count=7)
    out = []
    out += a.triage_batch([fb(1), fb(3)], T0)
    out += b.triage_batch([fb(2), fb(4)], T0)  # 4 customers: not yet an incident
    assert not any(o.triage.incident for o in out if isinstance(o, FeedbackTriaged))
    out += a.triage_batch([fb(5)], T0)  # the 5th customer, on worker a
    b = worker(fresh_db, incident_p1_count=7)  # worker b restarts mid-burst
    out += b.triage_batch([fb(6), fb(7)], T0)
    tri = [o.triage for o in out if isinstance(o, FeedbackTriaged)]
    assert [t.incident for t in tri] == [False] * 4 + [True] * 3
    assert tri[-1].priority == "P1" and any("incident:burst>=7" in e for e in tri[-1].escalations)
    # a redelivery of a member keeps its verdict and adds no member
    again = b.triage_batch([fb(6)], T0)[0]
    assert isinstance(again, FeedbackTriaged) and again.triage.incident
    with psycopg.connect(fresh_db) as c:
        rows = c.execute(
            "SELECT incident_key, member_count, member_keys, summary, p1, first_seen, last_seen"
            " FROM incidents"
        ).fetchall()
    assert len(rows) == 1
    key, count, members, summary, p1, first, last = rows[0]
    assert key == "web_form:b1" and count == 7 and p1
    assert sorted(members) == sorted(f"web_form:b{n}" for n in range(1, 8))
    assert "闪退" in summary and "1380000" not in summary
    assert first == T0 + timedelta(minutes=1) and last == T0 + timedelta(minutes=7)


def count(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as c:
        row = c.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else -1


def test_purge_removes_expired_index_and_burst_rows(fresh_db: str) -> None:
    e = worker(fresh_db)
    d = e.dedup
    assert isinstance(d, Deduplicator)
    old = T0 - timedelta(days=40)
    e.triage_batch([fb(2)], T0)  # the first batch purges (nothing to purge yet)
    assert d._last_purge == T0
    e.triage_batch([fb(1, old), fb(3, T0 - timedelta(hours=3))], T0 + timedelta(minutes=1))
    # within purge_every: no purge, the expired rows are there
    assert count(fresh_db, "dedup_entries") == 3 and count(fresh_db, "incident_bursts") == 3
    e.triage_batch([fb(4)], T0 + timedelta(minutes=11))  # the periodic purge runs
    assert d._last_purge == T0 + timedelta(minutes=11)
    with psycopg.connect(fresh_db) as c:
        left = sorted(r[0] for r in c.execute("SELECT source_key FROM dedup_entries"))
        bursts = sorted(r[0] for r in c.execute("SELECT source_key FROM incident_bursts"))
    # 40 days > the 30-day window: gone; 3 hours > twice the incident window: burst row gone
    assert left == ["web_form:b2", "web_form:b3", "web_form:b4"]
    assert bursts == ["web_form:b2", "web_form:b4"]


def test_incident_reaches_crm_notifications_and_the_cli(
    fresh_db: str, kafka_bootstrap: str, topic_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = REGISTRY.get_sample_value("tingjian_incidents_total") or 0.0
    e = worker(fresh_db)
    out = e.triage_batch([fb(n) for n in range(1, 7)], T0)
    assert REGISTRY.get_sample_value("tingjian_incidents_total") == before + 1
    store = CrmStore(fresh_db, "CRM{date:%Y%m%d}{seq:04d}", TZ)
    store.write_batch(out, "g", {})  # type: ignore[arg-type]
    store.close()
    cfg, topics = kafka_topics(kafka_bootstrap, topic_prefix)
    settings = load_settings(
        {
            "postgres": {"dsn": fresh_db},
            "kafka": {"bootstrap_servers": kafka_bootstrap, "topic_prefix": topic_prefix},
        }
    )
    clock = sla.build(settings, metrics_port=0)
    try:
        clock.one_pass()
        clock.one_pass()  # once only
    finally:
        clock.close()
    consumer = make_consumer(cfg, group_id=f"{topic_prefix}inc", max_poll_records=500)
    consumer.subscribe([topics.notifications])
    got: list[dict[str, object]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not got:
        for batch in consumer.poll(timeout_ms=1000).values():
            for m in batch:
                doc = json.loads(m.value)
                if doc["kind"] == "incident.detected":
                    got.append(doc)
        if got:
            time.sleep(1)  # a second event would have arrived by now
            for batch in consumer.poll(timeout_ms=1000).values():
                got += [
                    json.loads(m.value)
                    for m in batch
                    if json.loads(m.value)["kind"] == "incident.detected"
                ]
    consumer.close()
    assert len(got) == 1
    assert got[0]["members"] == 6 and len(got[0]["tickets"]) == 6  # type: ignore[arg-type]
    assert "1380000" not in json.dumps(got[0], ensure_ascii=False)

    assert print_incidents(settings, open_only=True) == 0
    text = capsys.readouterr().out
    assert "(1 incident)" in text and "闪退" in text and "1380000" not in text
