"""The 复盘 report against a hand-computed fixture of known tickets in a real
PostgreSQL: every expected number below is worked out by hand in the comments,
not by reports/. The Excel is read back with openpyxl; a canary contact is
planted and searched for in every output file."""

from __future__ import annotations

import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from openpyxl import load_workbook
from psycopg.types.json import Jsonb

from tingjian.cli import main

CST = timezone(timedelta(hours=8))
CANARY_PHONE = "13912345678"
CANARY_EMAIL = "canary.zhang@example.com"
CANARY_ACCOUNT = "wx_canary_8888"

# 2026-W10 is Monday 2026-03-02 .. Sunday 2026-03-08 (Asia/Shanghai); W09 before it.
CURRENT: list[dict[str, Any]] = [
    # 1: P1 bug resolved in 10 h, 满意; carries the canary contact in its text.
    dict(
        type="bug",
        priority="P1",
        dept="技术部",
        at=datetime(2026, 3, 2, 10, tzinfo=CST),
        hours=10,
        sat="满意",
        seg="老客户",
        sent="negative",
        topics=["产品质量"],
        summary=f"我的手机{CANARY_PHONE},邮箱{CANARY_EMAIL},账号 {CANARY_ACCOUNT} 打开APP闪退",
    ),
    # 2: P1 bug resolved in 30 h, 不满意 and reopened, resolve breach.
    dict(
        type="bug",
        priority="P1",
        dept="技术部",
        at=datetime(2026, 3, 3, 9, tzinfo=CST),
        hours=30,
        sat="不满意",
        seg="新客户",
        sent="negative",
        topics=["产品质量"],
        reopened=True,
        breaches=["resolve"],
        summary="新版本APP打开就闪退",
    ),
    # 3: P2 bug still open, acknowledge breach, needs review.
    dict(
        type="bug",
        priority="P2",
        dept="技术部",
        at=datetime(2026, 3, 4, 9, tzinfo=CST),
        hours=None,
        sat=None,
        seg="老客户",
        sent="neutral",
        topics=["产品质量"],
        breaches=["acknowledge"],
        review=True,
        summary="升级后APP频繁闪退",
    ),
    # 4: P2 complaint resolved in 4 h, 基本满意, labels corrected by an agent.
    dict(
        type="complaint",
        priority="P2",
        dept="客服部",
        at=datetime(2026, 3, 5, 9, tzinfo=CST),
        hours=4,
        sat="基本满意",
        seg="高价值客户",
        sent="negative",
        topics=["物流配送"],
        corrected=True,
        summary="快递一个星期了还没到",
    ),
    # 5: P4 suggestion resolved in 50 h, 满意, no segment.
    dict(
        type="suggestion",
        priority="P4",
        dept="产品部",
        at=datetime(2026, 3, 6, 9, tzinfo=CST),
        hours=50,
        sat="满意",
        seg=None,
        sent="neutral",
        topics=[],
        summary="建议增加批量导出订单的功能",
    ),
    # 6: P3 bug resolved in 20 h, never rated.
    dict(
        type="bug",
        priority="P3",
        dept="技术部",
        at=datetime(2026, 3, 8, 23, tzinfo=CST),
        hours=20,
        sat=None,
        seg="老客户",
        sent="neutral",
        topics=["产品质量", "账户与支付"],
        summary="支付页面闪退报错",
    ),
]
PREVIOUS: list[dict[str, Any]] = [
    dict(
        type="bug",
        priority="P3",
        dept="技术部",
        at=datetime(2026, 2, 24, 9, tzinfo=CST),
        hours=5,
        sat=None,
        seg="老客户",
        sent="neutral",
        topics=["产品质量"],
        summary="APP闪退",
    ),
    dict(
        type="complaint",
        priority="P2",
        dept="客服部",
        at=datetime(2026, 2, 25, 9, tzinfo=CST),
        hours=5,
        sat=None,
        seg="新客户",
        sent="negative",
        topics=[],
        summary="客服态度差",
    ),
    # Outside both periods (W11): must not count.
    dict(
        type="bug",
        priority="P1",
        dept="技术部",
        at=datetime(2026, 3, 9, 0, 30, tzinfo=CST),
        hours=1,
        sat="满意",
        seg="老客户",
        sent="neutral",
        topics=[],
        summary="下周的工单",
    ),
]


def _insert(dsn: str, tickets: list[dict[str, Any]]) -> None:
    with psycopg.connect(dsn) as c:
        for i, t in enumerate(tickets):
            at = t["at"]
            resolved = at + timedelta(hours=t["hours"]) if t["hours"] is not None else None
            canary = i == 0 and CANARY_PHONE in t["summary"]
            row = c.execute(
                "INSERT INTO tickets (ticket_no, channel, source_id, submitted_at, customer_name,"
                " customer_phone, customer_email, customer_account, customer_segment, content,"
                " normalized_text, summary, type, priority, sentiment, sentiment_score, topics,"
                " department, state, satisfaction, type_confidence, priority_confidence,"
                " needs_review, model_version, ack_due_at, resolved_at)"
                " VALUES (%s,'web_form',%s,%s,'张三',%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,0,%s,%s,%s,%s,"
                " 0.9,0.9,%s,'t',%s,%s) RETURNING id",
                (
                    f"T{at:%m%d%H%M}{i}",
                    f"src-{at.isoformat()}-{i}",
                    at,
                    CANARY_PHONE if canary else None,
                    CANARY_EMAIL if canary else None,
                    CANARY_ACCOUNT if canary else None,
                    t["seg"],
                    t["summary"],
                    t["summary"],
                    t["summary"],
                    t["type"],
                    t["priority"],
                    t["sent"],
                    t["topics"],
                    t["dept"],
                    "已完成" if resolved else "处理中",
                    t["sat"],
                    t.get("review", False),
                    at + timedelta(hours=1),
                    resolved,
                ),
            ).fetchone()
            assert row is not None
            tid = row[0]
            c.execute(
                "INSERT INTO ticket_events (ticket_id, at, actor, kind, from_state, to_state)"
                " VALUES (%s, %s, 'a', 'state', '新建', '已分派')",
                (tid, at),
            )
            if t.get("reopened"):
                c.execute(
                    "INSERT INTO ticket_events (ticket_id, at, actor, kind, from_state, to_state,"
                    " note) VALUES (%s, %s, 'c', 'satisfaction', '待客户确认', '处理中', '不满意')",
                    (tid, at + timedelta(hours=5)),
                )
            for clock in t.get("breaches", []):
                c.execute(
                    "INSERT INTO sla_marks (ticket_id, clock, mark, due_at) VALUES (%s,%s,'breach',%s)",
                    (tid, clock, at),
                )
            if t.get("corrected"):
                c.execute(
                    "INSERT INTO label_corrections (ticket_id, actor, model_version, original,"
                    " corrected) VALUES (%s, 'a', 't', %s, %s)",
                    (tid, Jsonb({"type": "inquiry"}), Jsonb({"type": t["type"]})),
                )


@pytest.fixture
def fixture_db(fresh_db: str) -> str:
    _insert(fresh_db, CURRENT + PREVIOUS)
    return fresh_db


def build(dsn: str, out: Path, *extra: str) -> list[Path]:
    rc = main(["report", "weekly", "--period", "2026-W10", "--dsn", dsn, "--out", str(out), *extra])
    assert rc == 0
    return sorted(out.iterdir())


def _sheet(wb: Any, name: str) -> dict[str, tuple[Any, ...]]:
    rows = list(wb[name].iter_rows(values_only=True))
    assert rows[1][0] in ("名称", "指标", "部门", "优先级", "时钟", "评价", "分群", "问题")
    return {r[0]: r[1:] for r in rows[2:]}


def test_figures_match_the_hand_computed_fixture(fixture_db: str, tmp_path: Path) -> None:
    # Two incidents: one first seen in W10 (counted), one in W11 (not).
    with psycopg.connect(fixture_db) as c:
        c.execute(
            "INSERT INTO incidents (incident_key, first_seen, last_seen, member_keys,"
            " member_count, summary) VALUES"
            " ('i1', '2026-03-04T10:00+08', '2026-03-04T11:00+08', '{a,b,c}', 3, '闪退'),"
            " ('i2', '2026-03-10T10:00+08', '2026-03-10T11:00+08', '{d,e,f}', 3, '卡顿')"
        )
    files = build(fixture_db, tmp_path)
    assert [f.suffix for f in files] == [".html", ".md", ".xlsx"]
    wb = load_workbook(tmp_path / "report-2026-W10.xlsx")
    ov = {k: v[0] for k, v in _sheet(wb, "overview").items()}
    assert ov["工单数"] == 6 and ov["上期工单数"] == 2  # W11's ticket is outside
    assert ov["P1工单数"] == 2 and ov["P1 24小时内解决"] == 1  # 10 h yes, 30 h no
    assert ov["P1 24小时解决率"] == pytest.approx(0.5)
    assert ov["重开占比"] == pytest.approx(round(1 / 6, 4))
    assert ov["待复核占比(needs_review)"] == pytest.approx(round(1 / 6, 4))
    assert ov["人工纠正标签占比"] == pytest.approx(round(1 / 6, 4))
    assert ov["事件数(incidents表)"] == 1

    types = _sheet(wb, "by_type")
    # 功能问题 4 of 6, 1 the week before: +300 %, but 4 < spike_min_count 5: no spike.
    assert types["功能问题"] == (4, pytest.approx(0.6667), 1, pytest.approx(3.0), None)
    assert types["投诉"] == (1, pytest.approx(0.1667), 1, pytest.approx(0.0), None)
    assert types["建议"][:3] == (1, pytest.approx(0.1667), 0)

    topics = _sheet(wb, "by_topic")
    assert topics["产品质量"][0] == 4 and topics["账户与支付"][0] == 1
    assert topics["未归类"][0] == 1  # the suggestion has no topic

    # 技术部: tickets 1, 2, 3, 6; resolved in 10, 30, 20 h: mean 20; p90 (nearest rank
    # ceil(0.9*3) = 3rd of 10, 20, 30) = 30.
    dept = _sheet(wb, "time_by_department")
    assert dept["技术部"] == (4, 3, pytest.approx(20.0), pytest.approx(30.0))
    assert dept["产品部"] == (1, 1, pytest.approx(50.0), pytest.approx(50.0))
    assert _sheet(wb, "time_by_type")["功能问题"] == dept["技术部"]

    sla = _sheet(wb, "sla")
    assert sla["受理超时"][0] == 1 and sla["解决超时"][0] == 1 and sla["响应超时"][0] == 0
    sla_dept = _sheet(wb, "sla_by_department")
    assert sla_dept["技术部"] == (4, 2, pytest.approx(0.5))  # tickets 2 and 3 breached
    assert sla_dept["客服部"] == (1, 0, pytest.approx(1.0))
    assert _sheet(wb, "sla_by_priority")["P1"] == (2, 1, pytest.approx(0.5))

    sat = _sheet(wb, "satisfaction")  # rated: 满意 ×2, 基本满意, 不满意 → 4
    assert sat["满意"] == (2, pytest.approx(0.5))
    assert sat["基本满意"] == (1, pytest.approx(0.25))
    assert sat["不满意"] == (1, pytest.approx(0.25))

    seg = _sheet(wb, "segments")
    # 老客户: tickets 1, 3, 6 (half); 1 negative of 3; resolved 10 and 20 h; only 1 rated, 满意.
    assert seg["老客户"] == (3, 0.5, pytest.approx(0.3333), pytest.approx(15.0), 1.0)
    assert seg["未知"][0] == 1

    clusters = _sheet(wb, "clusters")
    assert clusters, "no recurring issue found"
    total = sum(v[0] for v in clusters.values())
    assert total <= 6
    # The 闪退 tickets (1, 2, 3, 6) are similar: one cluster holds at least two of them.
    crash = [v for v in clusters.values() if v[4] and v[4].count("闪退") >= 2]
    assert crash, clusters

    md = (tmp_path / "report-2026-W10.md").read_text(encoding="utf-8")
    assert "| 功能问题 | 4 | 66.7% | 1 | 300.0% |  |" in md
    assert "P1 24小时解决率 50.0%" in md


def test_a_spike_needs_the_minimum_count(fixture_db: str, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("TINGJIAN_REPORTS__SPIKE_MIN_COUNT", "3")
    build(fixture_db, tmp_path)
    wb = load_workbook(tmp_path / "report-2026-W10.xlsx")
    types = _sheet(wb, "by_type")
    assert types["功能问题"][4] == "是"  # 1 → 4, +300 % and ≥ 3
    assert types["投诉"][4] is None  # 1 → 1


def test_no_contact_leaves_the_store(fixture_db: str, tmp_path: Path) -> None:
    files = build(fixture_db, tmp_path)
    assert len(files) == 3
    for f in files:
        if f.suffix == ".xlsx":
            with zipfile.ZipFile(f) as z:
                text = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        else:
            text = f.read_text(encoding="utf-8")
        for canary in (CANARY_PHONE, CANARY_EMAIL, CANARY_ACCOUNT, "canary.zhang"):
            assert canary not in text, f"{canary} in {f.name}"
    html = (tmp_path / "report-2026-W10.html").read_text(encoding="utf-8")
    assert "139****5678" in html  # the canary ticket is an example, masked


def test_department_filter_and_bad_period(fixture_db: str, tmp_path: Path) -> None:
    build(fixture_db, tmp_path, "--department", "技术部", "--format", "xlsx")
    wb = load_workbook(tmp_path / "report-2026-W10-技术部.xlsx")
    assert {k: v[0] for k, v in _sheet(wb, "overview").items()}["工单数"] == 4
    rc = main(
        ["report", "weekly", "--period", "2026-11", "--dsn", fixture_db, "--out", str(tmp_path)]
    )
    assert rc == 2


def test_demo_seed_refuses_the_default_store_and_fills_another(
    pg_admin_dsn: str, fresh_db: str, tmp_path: Path
) -> None:
    from config import load_settings

    assert main(["demo", "seed", "--dsn", load_settings().postgres.dsn]) == 2
    assert main(["demo", "seed", "--weeks", "3", "--per-week", "50", "--dsn", fresh_db]) == 0
    with psycopg.connect(fresh_db) as c:
        n, events, done = c.execute(
            "SELECT count(*), (SELECT count(*) FROM ticket_events),"
            " count(*) FILTER (WHERE resolved_at IS NOT NULL) FROM tickets"
        ).fetchone()  # type: ignore[misc]
    assert n == 150 and events > n and 0 < done < n
    with psycopg.connect(fresh_db) as c:
        flagged, members, incidents = c.execute(
            "SELECT (SELECT count(*) FROM tickets WHERE incident),"
            " (SELECT coalesce(sum(member_count), 0) FROM incidents),"
            " (SELECT count(*) FROM incidents)"
        ).fetchone()  # type: ignore[misc]
    assert flagged > 0 and members == flagged and 0 < incidents <= flagged
    assert main(["report", "monthly", "--dsn", fresh_db, "--out", str(tmp_path)]) == 0
