"""The SLA clock on the real store and broker: each warning and breach is an
event exactly once (also across a restart), and reaches the notifications
topic."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import psycopg
from prometheus_client import REGISTRY

from config import load_settings
from core.kafka import make_consumer
from models import Customer, FeedbackReceived
from sinks.crm.store import CrmStore
from tests.helpers import kafka_topics
from tests.integration.test_ticket_api import ENGINE, FMT, TZ
from tingjian.services import sla


def _ticket(dsn: str, source_id: str, text: str, received_at: datetime) -> str:
    item = FeedbackReceived(
        channel="web_form",
        source_id=source_id,
        received_at=received_at,
        text=text,
        customer=Customer(),
    )
    store = CrmStore(dsn, FMT, TZ)
    store.write_batch(ENGINE.triage_batch([item], received_at), "g", {})
    store.close()
    with psycopg.connect(dsn) as c:
        row = c.execute(
            "SELECT ticket_no FROM tickets WHERE source_id = %s", (source_id,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def _marks(dsn: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(dsn) as c:
        return [
            (r[0], r[1], r[2])
            for r in c.execute(
                "SELECT t.ticket_no, m.clock, m.mark FROM sla_marks m JOIN tickets t ON t.id = m.ticket_id"
                " ORDER BY t.ticket_no, m.clock, m.mark"
            ).fetchall()
        ]


def test_marks_are_recorded_once_and_notified(
    fresh_db: str, kafka_bootstrap: str, topic_prefix: str
) -> None:
    now = datetime.now(UTC)
    late = _ticket(
        fresh_db, "late", "付款后订单一直显示待支付，扣了两次钱", now - timedelta(days=3)
    )
    acked = _ticket(fresh_db, "acked", "页面加载太慢了", now - timedelta(days=10))
    fresh = _ticket(fresh_db, "fresh", "希望增加夜间模式", now)
    with psycopg.connect(fresh_db) as c:
        c.execute("UPDATE tickets SET acknowledged_at = now() WHERE ticket_no = %s", (acked,))
        # due in ten minutes: a warning, not a breach
        c.execute(
            "UPDATE tickets SET ack_due_at = now() + interval '10 minutes' WHERE ticket_no = %s",
            (fresh,),
        )
    cfg, topics = kafka_topics(kafka_bootstrap, topic_prefix)
    settings = load_settings(
        {
            "postgres": {"dsn": fresh_db},
            "kafka": {"bootstrap_servers": kafka_bootstrap, "topic_prefix": topic_prefix},
        }
    )
    before = (
        REGISTRY.get_sample_value(
            "tingjian_sla_breaches_total", {"priority": "P1", "kind": "acknowledge"}
        )
        or 0.0
    )
    clock = sla.build(settings, metrics_port=0)
    try:
        first = clock.one_pass(now)
        assert first > 0
        assert clock.one_pass(now) == 0  # nothing twice
    finally:
        clock.close()
    marks = _marks(fresh_db)
    assert (late, "acknowledge", "breach") in marks and (late, "resolve", "breach") in marks
    assert not [m for m in marks if m[0] == acked and m[1] == "acknowledge"]
    assert (fresh, "acknowledge", "warning") in marks
    assert not [m for m in marks if m[0] == fresh and m[2] == "breach"]
    assert (
        REGISTRY.get_sample_value(
            "tingjian_sla_breaches_total", {"priority": "P1", "kind": "acknowledge"}
        )
        == before + 1
    )

    restarted = sla.build(settings, metrics_port=0)  # a restart: no second event
    try:
        assert restarted.one_pass(now + timedelta(seconds=5)) == 0
    finally:
        restarted.close()
    with psycopg.connect(fresh_db) as c:
        events = c.execute("SELECT count(*) FROM ticket_events WHERE kind = 'sla'").fetchone()
    assert events == (len(marks),)

    consumer = make_consumer(cfg, group_id=f"{topic_prefix}check", max_poll_records=500)
    consumer.subscribe([topics.notifications])
    everything: list[dict[str, object]] = []
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while len(everything) < len(marks) + 3 and datetime.now(UTC) < deadline:
        for batch in consumer.poll(timeout_ms=1000).values():
            everything += [json.loads(r.value) for r in batch]
    time.sleep(1)  # and nothing more arrives: the restart relayed nothing twice
    for batch in consumer.poll(timeout_ms=1000).values():
        everything += [json.loads(r.value) for r in batch]
    consumer.close()
    got = [g for g in everything if str(g["kind"]).startswith("sla.")]
    assert len(got) == len(marks)
    assert len({g["idempotency_key"] for g in got}) == len(marks)
    assert {g["kind"] for g in got} == {"sla.breach", "sla.warning"}
    # the ticket events are relayed too, once: three tickets created
    created = [g for g in everything if g["kind"] in ("ticket.created", "incident")]
    assert sorted(str(g["feedback_no"]) for g in created) == sorted([late, acked, fresh])
    assert all("content" not in g and "customer" not in g for g in everything)
