"""Shadow mode on a small fixed set whose disagreements are known by
construction: the real engine calls the shadow runner, the real PostgreSQL
adapter stores them, the metric and ``model shadow-report`` count them; a
redelivered batch adds nothing; tickets carry the live model's labels only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY

from config import load_business_rules, load_settings
from models import Customer, FeedbackReceived, FeedbackTriaged
from tests.helpers import count
from tingjian.cli import main
from triage.classifier import Prediction
from triage.engine import TriageEngine
from triage.shadow import ShadowRunner
from triage.shadow_store import PostgresShadowStore

# (type, priority, sentiment) of the live and of the shadow model, per item.
LIVE = [
    ("bug", "P1", "negative"),
    ("ux", "P3", "neutral"),
    ("inquiry", "P3", "neutral"),
    ("praise", "P4", "positive"),
    ("complaint", "P2", "negative"),
    ("suggestion", "P4", "neutral"),
]
SHADOW = [
    ("bug", "P1", "negative"),  # agrees
    ("bug", "P3", "neutral"),  # type
    ("inquiry", "P2", "negative"),  # priority, sentiment
    ("praise", "P4", "positive"),  # agrees
    ("bug", "P1", "negative"),  # type, priority
    ("suggestion", "P4", "positive"),  # sentiment
]
# By hand: type 2 (items 1, 4), priority 2 (items 2, 4), sentiment 2 (items 2, 5).
EXPECTED = {"type": 2, "priority": 2, "sentiment": 2}


@dataclass
class Scripted:
    """A classifier that answers from a table by the text's item number."""

    version: str
    table: list[tuple[str, str, str]]

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        out = []
        for t in texts:
            ty, pr, se = self.table[int(t.split("#")[1])]
            out.append(Prediction(ty, 0.9, pr, 0.8, se, 0.0, 0.7))  # type: ignore[arg-type]
        return out


def _metric(head: str) -> float:
    v = REGISTRY.get_sample_value("tingjian_shadow_disagreements_total", {"head": head})
    return v or 0.0


def test_shadow_disagreements_match_the_hand_count(
    fresh_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings()
    runner = ShadowRunner(Scripted("shadow-v", SHADOW), PostgresShadowStore(fresh_db))
    engine = TriageEngine(
        load_business_rules(settings.business),
        Scripted("live-v", LIVE),  # type: ignore[arg-type]
        settings.privacy.hash_key,
        __import__("zoneinfo").ZoneInfo("Asia/Shanghai"),
        observers=[runner.observe],
    )
    now = datetime.now(UTC)
    items = [
        FeedbackReceived(
            channel="web_form",
            source_id=f"s{i}",
            received_at=now,
            text=f"第{i}条反馈 #{i}",
            customer=Customer(),
        )
        for i in range(len(LIVE))
    ]
    before = {h: _metric(h) for h in EXPECTED}
    results: list[Any] = engine.triage_batch(items, now)
    assert runner.flush() == sum(EXPECTED.values())
    # Tickets keep the live model's labels and version.
    for res, live in zip(results, LIVE, strict=True):
        assert isinstance(res, FeedbackTriaged)
        assert res.triage.type == live[0] and res.triage.model_version == "live-v"
    for head, n in EXPECTED.items():
        assert (
            count(fresh_db, f"SELECT count(*) FROM shadow_disagreements WHERE head = '{head}'") == n
        )
        assert _metric(head) - before[head] == n
    assert count(fresh_db, "SELECT count(*) FROM shadow_compared") == len(LIVE)

    # A redelivered batch: nothing new stored or counted.
    engine.triage_batch(items, now)
    assert runner.flush() == 0
    assert count(fresh_db, "SELECT count(*) FROM shadow_disagreements") == 6
    assert all(_metric(h) - before[h] == n for h, n in EXPECTED.items())

    assert main(["model", "shadow-report", "--dsn", fresh_db]) == 0
    out = capsys.readouterr().out
    assert "shadow shadow-v" in out
    # type: 6 items, 2 disagreements -> 66.7 %; the "bug" class agrees fully (1 of 1).
    assert any(ln.split()[:4] == ["type", "(all)", "6", "2"] for ln in out.splitlines())
    assert any(ln.split()[:4] == ["type", "bug", "1", "0"] for ln in out.splitlines())
    assert "66.7%" in out

    # Agents correct three disagreeing tickets: which model was right.
    from zoneinfo import ZoneInfo

    from crm.store import TicketDesk
    from sinks.crm.store import CrmStore

    store = CrmStore(fresh_db, "CRM{date:%Y%m%d}{seq:04d}", ZoneInfo("Asia/Shanghai"))
    store.write_batch(results, "g", {})
    store.close()
    desk = TicketDesk(fresh_db)
    who = desk.principal(desk.create_token("组长", "lead", None))
    assert who is not None
    with __import__("psycopg").connect(fresh_db) as c:
        no = dict(c.execute("SELECT source_id, ticket_no FROM tickets").fetchall())
    desk.correct_labels(who, no["s1"], {"type": "bug"})  # the shadow's label
    desk.correct_labels(who, no["s4"], {"type": "complaint"})  # the live model's
    desk.correct_labels(who, no["s2"], {"sentiment": "positive"})  # neither
    desk.close()
    assert main(["model", "shadow-report", "--dsn", fresh_db]) == 0
    out = capsys.readouterr().out
    assert "type       live 1  shadow 1  neither 0" in out
    assert "sentiment  live 0  shadow 0  neither 1" in out

    # Drift over the store's last week: six tickets per head.
    main(["model", "drift", "--dsn", fresh_db])
    out = capsys.readouterr().out
    assert "type       n=6" in out and "TVD" in out
