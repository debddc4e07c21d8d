"""The ticket API against a real PostgreSQL: tokens, roles and departments,
the lifecycle of SPEC §7 with its events, label corrections, and every
refusal (401, 403, 404, 409, 413, 429)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from starlette.testclient import TestClient

from config import load_business_rules, load_settings
from crm.api.app import ApiOptions, create_app
from crm.store import TicketDesk
from models import Customer, FeedbackReceived
from sinks.crm.store import CrmStore
from tests.helpers import ROOT
from triage.classifier import KeywordClassifier
from triage.engine import TriageEngine

TZ = ZoneInfo("Asia/Shanghai")
FMT = "CRM{date:%Y%m%d}{seq:04d}"
ENGINE = TriageEngine(
    load_business_rules(load_settings().business), KeywordClassifier(), "k" * 16, TZ
)


def _seed(dsn: str) -> dict[str, str]:
    """Two tickets: a bug (技术部) and a praise (客服部); their numbers by type."""
    now = datetime.now(UTC)
    items = [
        FeedbackReceived(
            channel="web_form",
            source_id="bug-1",
            received_at=now,
            text="APP登录后一直闪退，无法使用",
            customer=Customer(name="王先生", phone="13812345678", account="acct-778899"),
        ),
        FeedbackReceived(
            channel="web_form",
            source_id="praise-1",
            received_at=now,
            text="客服小王很耐心，感谢",
            customer=Customer(name="李女士", email="li.na@example.com"),
        ),
    ]
    store = CrmStore(dsn, FMT, TZ)
    store.write_batch(ENGINE.triage_batch(items, now), "g", {})
    store.close()
    with psycopg.connect(dsn) as c:
        return {r[0]: r[1] for r in c.execute("SELECT type, ticket_no FROM tickets").fetchall()}


@pytest.fixture
def api(fresh_db: str) -> Iterator[tuple[TestClient, TicketDesk, dict[str, str]]]:
    desk = TicketDesk(fresh_db)
    numbers = _seed(fresh_db)
    app = create_app(
        desk, ApiOptions(max_body_bytes=2048, rate_limit_per_minute=1000), lambda: {"ok": True}
    )
    with TestClient(app) as client:
        yield client, desk, numbers
    desk.close()


def _h(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def test_no_or_unknown_token_is_401(api: tuple[TestClient, TicketDesk, dict[str, str]]) -> None:
    client, _, _ = api
    assert client.get("/v1/tickets").status_code == 401
    r = client.get("/v1/tickets", headers=_h("tjk_not-a-token"))
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/openapi.json").json()["paths"]["/v1/tickets/{no}/transition"]


def test_an_agent_sees_and_changes_only_its_department(
    api: tuple[TestClient, TicketDesk, dict[str, str]],
) -> None:
    client, desk, no = api
    tech = desk.create_token("小张", "agent", "技术部")
    rows = client.get("/v1/tickets", headers=_h(tech)).json()["tickets"]
    assert [t["ticket_no"] for t in rows] == [no["bug"]]
    # masked for an agent
    assert rows[0]["customer"]["phone"] == "138****5678"
    assert rows[0]["customer"]["account"] == "ac****99"
    assert client.get(f"/v1/tickets/{no['praise']}", headers=_h(tech)).status_code == 403
    assert client.get("/v1/tickets?department=客服部", headers=_h(tech)).status_code == 403
    r = client.post(f"/v1/tickets/{no['praise']}/notes", json={"note": "看一下"}, headers=_h(tech))
    assert r.status_code == 403
    assert client.get("/v1/tickets/CRM000000000000", headers=_h(tech)).status_code == 404
    # only a lead moves a ticket to another department
    r = client.post(
        f"/v1/tickets/{no['bug']}/transition",
        json={"to": "已分派", "assignee": "小张", "department": "产品部"},
        headers=_h(tech),
    )
    assert r.status_code == 403
    admin = desk.create_token("管理员", "admin", None)
    full = client.get(f"/v1/tickets/{no['bug']}", headers=_h(admin)).json()
    assert full["customer"]["phone"] == "13812345678"


def test_the_lifecycle_with_its_events_and_handling_time(
    api: tuple[TestClient, TicketDesk, dict[str, str]], fresh_db: str
) -> None:
    client, desk, no = api
    lead = desk.create_token("组长", "lead", None)
    bug = no["bug"]

    def go(to: str, **kw: str) -> dict[str, object]:
        r = client.post(f"/v1/tickets/{bug}/transition", json={"to": to, **kw}, headers=_h(lead))
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    r = client.post(f"/v1/tickets/{bug}/transition", json={"to": "已完成"}, headers=_h(lead))
    assert r.status_code == 409 and r.json()["allowed"] == ["已分派"]
    assert (
        client.post(
            f"/v1/tickets/{bug}/transition", json={"to": "已分派"}, headers=_h(lead)
        ).status_code
        == 409
    )  # an assignee is needed
    go("已分派", assignee="小张")
    go("新建", note="不是技术问题，退回重新分派")  # 退回 with a reason
    go("已分派", assignee="小李")
    go("已确认")
    go("处理中")
    assert (
        client.post(
            f"/v1/tickets/{bug}/notes", json={"note": "已定位到登录模块"}, headers=_h(lead)
        ).status_code
        == 200
    )
    go("待客户确认")
    r = client.post(
        f"/v1/tickets/{bug}/satisfaction",
        json={"rating": "不满意", "comment": "还是闪退"},
        headers=_h(lead),
    )
    assert r.status_code == 200 and r.json()["state"] == "处理中"  # reopened
    go("待客户确认")
    t = go("已完成", solution="修复登录模块的空指针，已发布 3.2.1")
    assert t["handling_hours"] is not None and t["resolved_at"]
    r = client.post(f"/v1/tickets/{bug}/satisfaction", json={"rating": "满意"}, headers=_h(lead))
    assert r.status_code == 200 and r.json()["satisfaction"] == "满意"
    t = go("已归档")
    assert t["archived_at"] and t["allowed_next"] == []
    kinds = [(e["kind"], e["from"], e["to"]) for e in t["events"]]  # type: ignore[index]
    assert kinds[0] == ("state", None, "新建")
    assert ("state", "已分派", "新建") in kinds
    assert ("satisfaction", "待客户确认", "处理中") in kinds
    assert ("note", "处理中", "处理中") in kinds
    assert kinds[-1] == ("state", "已完成", "已归档")
    assert all(e["actor"] == "lead:组长" for e in t["events"][1:])  # type: ignore[index]
    with psycopg.connect(fresh_db) as c:
        row = c.execute(
            "SELECT assignee, solution, satisfaction, acknowledged_at IS NOT NULL,"
            " first_response_at IS NOT NULL FROM tickets WHERE ticket_no = %s",
            (bug,),
        ).fetchone()
    assert row == ("小李", "修复登录模块的空指针，已发布 3.2.1", "满意", True, True)


def test_a_label_correction_is_kept_with_the_models_labels(
    api: tuple[TestClient, TicketDesk, dict[str, str]], fresh_db: str
) -> None:
    client, desk, no = api
    agent = desk.create_token("小王", "agent", "客服部")
    r = client.post(
        f"/v1/tickets/{no['praise']}/labels",
        json={"type": "complaint", "sentiment": "negative"},
        headers=_h(agent),
    )
    assert r.status_code == 200 and r.json()["type"] == "complaint"
    assert r.json()["needs_review"] is False
    bad = client.post(
        f"/v1/tickets/{no['praise']}/labels", json={"type": "angry"}, headers=_h(agent)
    )
    assert bad.status_code == 409
    with psycopg.connect(fresh_db) as c:
        row = c.execute(
            "SELECT actor, original->>'type', corrected->>'type', corrected->>'sentiment',"
            " model_version FROM label_corrections"
        ).fetchone()
    assert row == ("agent:小王", "praise", "complaint", "negative", "keyword-baseline-1")


def test_concurrent_and_stale_changes_are_409_never_lost(
    api: tuple[TestClient, TicketDesk, dict[str, str]], fresh_db: str
) -> None:
    client, desk, no = api
    lead = desk.create_token("组长", "lead", None)
    v = client.get(f"/v1/tickets/{no['bug']}", headers=_h(lead)).json()["version"]
    with psycopg.connect(fresh_db) as other:
        # another writer holds the row
        other.execute("SELECT 1 FROM tickets WHERE ticket_no = %s FOR UPDATE", (no["bug"],))
        r = client.post(
            f"/v1/tickets/{no['bug']}/notes", json={"note": "同时修改"}, headers=_h(lead)
        )
        assert r.status_code == 409
        other.rollback()
    ok = client.post(
        f"/v1/tickets/{no['bug']}/notes",
        json={"note": "第一次"},
        headers=_h(lead, **{"If-Match": str(v)}),
    )
    assert ok.status_code == 200 and ok.json()["version"] == v + 1
    stale = client.post(
        f"/v1/tickets/{no['bug']}/notes",
        json={"note": "旧副本"},
        headers=_h(lead, **{"If-Match": str(v)}),
    )
    assert stale.status_code == 409
    notes = [e["note"] for e in ok.json()["events"] if e["kind"] == "note"]
    assert notes == ["第一次"]


def test_body_limit_and_rate_limit(fresh_db: str) -> None:
    desk = TicketDesk(fresh_db)
    no = _seed(fresh_db)
    lead = desk.create_token("组长", "lead", None)
    app = create_app(
        desk, ApiOptions(max_body_bytes=1024, rate_limit_per_minute=3), lambda: {"ok": True}
    )
    with TestClient(app) as client:
        big = {"note": "长" * 2000}
        assert (
            client.post(f"/v1/tickets/{no['bug']}/notes", json=big, headers=_h(lead)).status_code
            == 413
        )
        codes = [client.get("/v1/tickets", headers=_h(lead)).status_code for _ in range(3)]
        assert (
            codes[-1] == 429
            and "retry-after" in client.get("/v1/tickets", headers=_h(lead)).headers
        )
    desk.close()


def test_token_create_prints_a_token_once(fresh_db: str) -> None:
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "tingjian.cli", "api", "token", "create", "--name", "小赵"),
            *("--role", "agent", "--department", "产品部", "--dsn", fresh_db),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert token.startswith("tjk_")
    desk = TicketDesk(fresh_db)
    who = desk.principal(token)
    assert who is not None and (who.name, who.role, who.department) == ("小赵", "agent", "产品部")
    with psycopg.connect(fresh_db) as c:
        stored = c.execute("SELECT token_sha256 FROM api_tokens").fetchone()
    assert stored is not None and token not in stored[0]
    desk.close()


def test_corrections_export_for_the_data_team(
    api: tuple[TestClient, TicketDesk, dict[str, str]], fresh_db: str, tmp_path: Path
) -> None:
    from triage.training import load_labeled

    client, desk, no = api
    with psycopg.connect(fresh_db) as c:
        c.execute(
            "UPDATE tickets SET content = content || ' 电话13812345678' WHERE ticket_no = %s",
            (no["praise"],),
        )
    a = desk.create_token("小王", "agent", "客服部")
    b = desk.create_token("小李", "lead", None)
    path = f"/v1/tickets/{no['praise']}/labels"
    assert client.post(path, json={"type": "complaint"}, headers=_h(a)).status_code == 200
    assert client.post(path, json={"type": "inquiry"}, headers=_h(b)).status_code == 200
    out = tmp_path / "corrections.jsonl"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "tingjian.cli", "corrections", "export"),
            *("--dsn", fresh_db, "-o", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        "1 corrected tickets (2 corrections" in proc.stderr
        and "1 tickets where agents disagreed" in proc.stderr
    )
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 1
    r = rows[0]
    assert r["type"] == "inquiry" and r["model_labels"]["type"] == "praise"  # latest wins
    assert r["corrected_by"] == "lead:小李" and r["corrections"] == 2
    assert "13812345678" not in out.read_text(encoding="utf-8") and "138****5678" in r["text"]
    assert [e.type for e in load_labeled(out)] == ["inquiry"]  # model train --data reads it
