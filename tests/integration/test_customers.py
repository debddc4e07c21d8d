"""Customer segments from a CRM export (SPEC §4): imported by phone, email or
account, found by triage, and the high-value rule fires."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from config import load_business_rules, load_settings
from models import Customer, FeedbackReceived
from sinks.crm.store import CrmStore
from tests.helpers import ROOT
from tests.integration.test_ticket_api import FMT, TZ
from triage.classifier import KeywordClassifier
from triage.engine import TriageEngine
from triage.segments_store import PostgresSegments


def test_import_and_the_high_value_rule(fresh_db: str, tmp_path: Path) -> None:
    csv = tmp_path / "customers.csv"
    csv.write_text(
        "姓名,手机号,邮箱,客户类型\n"
        "王先生,138-1234-5678,wang@example.com,高价值客户\n"
        "李女士,13900000000,,VIP\n"
        "赵先生,,zhao@example.com,流失客户\n",
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "tingjian.cli", "import", "customers", str(csv), "--dsn", fresh_db],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "imported 2 customers (3 contact keys); 1 rows rejected" in proc.stdout
    assert "row 3" in proc.stderr and "客户类型" in proc.stderr
    with psycopg.connect(fresh_db) as c:
        stored = c.execute(
            "SELECT customer_key, segment FROM customers ORDER BY segment"
        ).fetchall()
    assert len(stored) == 3 and all("138" not in k for k, _ in stored)  # keyed hashes only

    hash_key = load_settings().privacy.hash_key
    engine = TriageEngine(
        load_business_rules(load_settings().business),
        KeywordClassifier(),
        hash_key,
        TZ,
        segments=PostgresSegments(fresh_db),
    )
    now = datetime.now(UTC)
    vip = FeedbackReceived(
        channel="web_form",
        source_id="v",
        received_at=now,
        text="按钮有点小，不太好点",
        customer=Customer(phone="13812345678"),
    )
    other = FeedbackReceived(
        channel="web_form",
        source_id="o",
        received_at=now,
        text="按钮有点小，不太好点",
        customer=Customer(phone="13700000000"),
    )
    a, b = engine.triage_batch([vip, other], now)
    assert a.feedback.customer.segment == "高价值客户"  # type: ignore[union-attr]
    assert "segment:高价值客户" in a.triage.escalations  # type: ignore[union-attr]
    assert b.feedback.customer.segment is None  # type: ignore[union-attr]
    order = ["P1", "P2", "P3", "P4"]
    assert order.index(a.triage.priority) < order.index(b.triage.priority)  # type: ignore[union-attr]
    store = CrmStore(fresh_db, FMT, TZ)
    store.write_batch([a, b], "g", {})  # type: ignore[list-item]
    store.close()
    with psycopg.connect(fresh_db) as c:
        segs = c.execute(
            "SELECT source_id, customer_segment FROM tickets ORDER BY source_id"
        ).fetchall()
    assert segs == [("o", None), ("v", "高价值客户")]
