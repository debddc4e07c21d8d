"""``tingjian demo seed``: realistic tickets with their lifecycle events, SLA
breaches, satisfaction answers and label corrections, written with COPY into
a database of the user's choosing (created and migrated if missing), so that
a newcomer sees a full 复盘 report. Refuses the default store unless asked."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from core.errors import ConfigError, StoreError
from core.store.schema import migrate

# (type, priority weights, department, topics, summaries)
_TEMPLATES: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "bug",
        "技术部",
        ("产品质量",),
        (
            "更新到最新版本后APP一打开就闪退,重装了也没用",
            "新版本APP打开就闪退,安卓手机",
            "升级后APP频繁闪退,根本用不了",
            "APP在订单页面闪退,重启也不行",
        ),
    ),
    (
        "bug",
        "技术部",
        ("账户与支付",),
        (
            "支付页面提示失败,但是钱已经扣了",
            "付款时一直报错,提示网络异常",
            "下单支付失败,银行卡被扣款两次",
        ),
    ),
    (
        "bug",
        "技术部",
        ("账户与支付",),
        (
            "收不到登录验证码,没法登录账号",
            "登录的时候验证码一直收不到",
            "验证码短信收不到,换了手机也不行",
        ),
    ),
    (
        "complaint",
        "客服部",
        ("物流配送",),
        (
            "快递一个星期了还没到,物流信息不更新",
            "发货太慢了,下单五天还没发货",
            "物流显示签收了但我没收到包裹",
        ),
    ),
    (
        "complaint",
        "客服部",
        ("服务体验",),
        (
            "客服电话一直打不通,人工服务等了半小时",
            "客服态度很差,问题也没解决",
            "投诉了两次都没有人回复",
        ),
    ),
    (
        "complaint",
        "客服部",
        ("售后支持",),
        (
            "申请退款十天了还没到账",
            "退货审核一直不通过,也没有说明原因",
            "退款进度一直显示处理中",
        ),
    ),
    (
        "ux",
        "产品部",
        ("售后支持",),
        (
            "退款申请要填的东西太多了,找了半天才找到入口",
            "退货入口太深了,很难找到",
        ),
    ),
    (
        "suggestion",
        "产品部",
        (),
        (
            "建议增加批量导出订单的功能,每个月对账太麻烦",
            "希望能增加夜间模式",
            "建议支持发票批量下载",
        ),
    ),
    (
        "inquiry",
        "客服部",
        ("价格争议",),
        (
            "请问会员费怎么收的,能不能退",
            "优惠券为什么用不了,想咨询一下",
            "降价了能不能补差价",
        ),
    ),
    (
        "praise",
        "客服部",
        ("服务体验",),
        (
            "客服小王很耐心,问题很快解决了,点赞",
            "这次售后处理得很快,非常满意",
        ),
    ),
)
_WEIGHTS = (10, 5, 4, 6, 4, 5, 3, 4, 4, 2)
_CHANNELS = ("web_form", "email", "social", "app_review", "survey")
_SEGMENTS = ("新客户", "老客户", "高价值客户", "流失客户", None)
_RATINGS = ("满意", "基本满意", "不满意")
_TICKET_COLS = (
    "id",
    "ticket_no",
    "channel",
    "source_id",
    "submitted_at",
    "registered_at",
    "customer_name",
    "customer_segment",
    "content",
    "normalized_text",
    "summary",
    "type",
    "priority",
    "sentiment",
    "sentiment_score",
    "topics",
    "department",
    "assignee",
    "state",
    "solution",
    "satisfaction",
    "type_confidence",
    "priority_confidence",
    "needs_review",
    "model_version",
    "incident",
    "ack_due_at",
    "first_response_due_at",
    "resolve_due_at",
    "acknowledged_at",
    "first_response_at",
    "resolved_at",
    "archived_at",
)
_EVENT_COLS = ("ticket_id", "at", "actor", "kind", "from_state", "to_state", "note")
_ACK_H = {"P1": 1, "P2": 4, "P3": 24, "P4": 48}
_RESOLVE_H = {"P1": 24, "P2": 72, "P3": 168, "P4": 336}


def ensure_database(dsn: str) -> bool:
    """Create the database ``dsn`` names if missing (from the server's
    ``postgres`` database); True when it was created. Then migrate it."""
    base, _, name = dsn.rpartition("/")
    name = name.split("?")[0]
    created = False
    try:
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=10) as c:
            if (
                c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
                is None
            ):
                c.execute(f'CREATE DATABASE "{name}"')  # name from the user's own DSN
                created = True
    except psycopg.Error as exc:
        raise StoreError(f"cannot create database {name}: {exc}") from exc
    migrate(dsn)
    return created


def check_target(dsn: str, default_dsn: str, yes_default_store: bool) -> None:
    if dsn.rstrip("/") == default_dsn.rstrip("/") and not yes_default_store:
        raise ConfigError(
            "demo seed writes invented tickets: refusing the default store "
            f"({default_dsn.rpartition('@')[2]}); give --dsn of another database "
            "or --yes-default-store"
        )


def _ticket(
    rnd: random.Random, tid: int, at: datetime, now: datetime, spike: bool
) -> tuple[list[Any], list[list[Any]], list[str], bool, bool]:
    i = 0 if spike and rnd.random() < 0.35 else rnd.choices(range(len(_TEMPLATES)), _WEIGHTS)[0]
    kind, dept, topics, summaries = _TEMPLATES[i]
    prio = (
        rnd.choices(("P1", "P2", "P3"), (4, 4, 2))[0]
        if kind in ("bug", "complaint")
        else rnd.choice(("P3", "P4"))
    )
    sentiment = {"praise": "positive", "complaint": "negative"}.get(
        kind, rnd.choice(("negative", "neutral", "neutral"))
    )
    summary = rnd.choice(summaries)
    age_h = (now - at).total_seconds() / 3600
    assignee = f"agent{rnd.randint(1, 12):02d}"
    ev: list[list[Any]] = []
    breaches: list[str] = []
    t = at + timedelta(minutes=rnd.randint(5, 90))
    state, ack, first, resolved, archived, rating, solution = (
        "新建",
        None,
        None,
        None,
        None,
        None,
        None,
    )
    reopened = False
    # How far the ticket got: older tickets are mostly done.
    done = age_h > 24 * rnd.uniform(0.5, 14)
    if t < now:
        ev.append([tid, t, "dispatcher", "state", "新建", "已分派", None])
        state = "已分派"
        ack_delay = timedelta(hours=rnd.expovariate(1 / (_ACK_H[prio] * 0.6)))
        ack = t + ack_delay
        if ack < now:
            ev.append([tid, ack, assignee, "state", "已分派", "已确认", None])
            first = ack + timedelta(minutes=rnd.randint(10, 240))
            ev.append([tid, first, assignee, "state", "已确认", "处理中", None])
            state = "处理中"
            if ack - at > timedelta(hours=_ACK_H[prio]):
                breaches.append("acknowledge")
    handle_h = rnd.lognormvariate(2.3 if prio in ("P1", "P2") else 3.3, 0.8)
    if prio == "P1":
        handle_h = rnd.lognormvariate(2.6, 0.7)
    if done and first is not None and at + timedelta(hours=handle_h) < now:
        resolved = max(first + timedelta(minutes=5), at + timedelta(hours=handle_h))
        solution = "已处理"
        ev.append(
            [tid, resolved - timedelta(minutes=30), assignee, "state", "处理中", "待客户确认", None]
        )
        state = "待客户确认"
        rating = rnd.choices(_RATINGS, (6, 3, 1.2 if kind != "complaint" else 2.5))[0]
        if rating == "不满意" and rnd.random() < 0.6:
            ev.append([tid, resolved, "customer", "satisfaction", "待客户确认", "处理中", rating])
            reopened = True
            resolved = resolved + timedelta(hours=rnd.uniform(4, 48))
            ev.append(
                [
                    tid,
                    resolved - timedelta(minutes=20),
                    assignee,
                    "state",
                    "处理中",
                    "待客户确认",
                    None,
                ]
            )
            rating = rnd.choice(("满意", "基本满意"))
        ev.append([tid, resolved, "customer", "satisfaction", "待客户确认", "待客户确认", rating])
        ev.append([tid, resolved, assignee, "state", "待客户确认", "已完成", None])
        state = "已完成"
        if resolved - at > timedelta(hours=_RESOLVE_H[prio]):
            breaches.append("resolve")
        if (now - resolved).days > 7:
            archived = resolved + timedelta(days=7)
            ev.append([tid, archived, "system", "state", "已完成", "已归档", None])
            state = "已归档"
    elif at + timedelta(hours=_RESOLVE_H[prio]) < now:
        breaches.append("resolve")
    if first is None and at + timedelta(hours=_ACK_H[prio]) < now:
        breaches.append("acknowledge")
    conf = rnd.uniform(0.4, 0.99)
    needs_review = conf < 0.55
    corrected = needs_review and rnd.random() < 0.5
    if corrected:
        needs_review = False
    row = [
        tid,
        f"DEMO{tid:09d}",
        rnd.choice(_CHANNELS),
        f"demo-{tid}",
        at,
        at,
        "演示客户",
        rnd.choice(_SEGMENTS),
        summary,
        summary,
        summary,
        kind,
        prio,
        sentiment,
        {"negative": -0.6, "neutral": 0.0, "positive": 0.7}[sentiment],
        list(topics),
        dept,
        assignee if state != "新建" else None,
        state,
        solution,
        rating,
        conf,
        rnd.uniform(0.5, 0.99),
        needs_review,
        "demo-1",
        spike and i == 0 and rnd.random() < 0.3,
        at + timedelta(hours=_ACK_H[prio]),
        at + timedelta(hours=_ACK_H[prio] * 2),
        at + timedelta(hours=_RESOLVE_H[prio]),
        ack,
        first,
        resolved,
        archived,
    ]
    del reopened
    return row, ev, breaches, corrected, spike


def seed(
    dsn: str,
    *,
    weeks: int = 12,
    per_week: int = 400,
    rnd_seed: int = 12,
    now: datetime | None = None,
    progress: Callable[[int, int], None] = lambda _d, _t: None,
) -> int:
    """Write ``weeks`` × ``per_week`` tickets ending at ``now``; the last two
    weeks carry a 新版本 crash spike. Returns how many tickets were written."""
    rnd = random.Random(rnd_seed)
    now = now or datetime.now(UTC)
    start = now - timedelta(weeks=weeks)
    total = weeks * per_week
    members: list[tuple[datetime, str, str]] = []
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            base = int(conn.execute("SELECT COALESCE(max(id), 0) FROM tickets").fetchone()[0])  # type: ignore[index]
            chunk = 20_000
            for lo in range(0, total, chunk):
                tickets, events, marks, corrections = [], [], [], []
                for k in range(lo, min(lo + chunk, total)):
                    tid = base + k + 1
                    at = start + timedelta(seconds=rnd.uniform(0, weeks * 7 * 86400))
                    spike = at > now - timedelta(weeks=2)
                    row, ev, br, corr, _ = _ticket(rnd, tid, at, now, spike)
                    tickets.append(row)
                    events += ev
                    for clock in br:
                        due = row[26] if clock == "acknowledge" else row[28]
                        marks.append([tid, clock, "breach", 0, due, due])
                    if corr:
                        orig = {"type": row[11], "priority": row[12], "sentiment": row[13]}
                        corrections.append(
                            [
                                tid,
                                at + timedelta(hours=2),
                                "agent01",
                                "demo-1",
                                orig,
                                {**orig, "priority": "P2"},
                            ]
                        )
                _copy(conn, "tickets", _TICKET_COLS, tickets)
                _copy(conn, "ticket_events", _EVENT_COLS, events)
                _copy(
                    conn,
                    "sla_marks",
                    ("ticket_id", "clock", "mark", "period", "due_at", "marked_at"),
                    marks,
                )
                _copy_json(conn, corrections)
                for row in tickets:
                    if row[25]:  # the incident flag
                        members.append((row[4], f"{row[2]}:{row[3]}", row[10]))
                progress(min(lo + chunk, total), total)
            _copy(conn, "incidents", _INCIDENT_COLS, _incidents(members))
            conn.execute(
                "SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT max(id) FROM tickets))"
            )
            conn.execute("ANALYZE")
    except psycopg.Error as exc:
        raise StoreError(f"cannot seed demo data: {exc}") from exc
    return total


_INCIDENT_COLS = (
    "incident_key",
    "first_seen",
    "last_seen",
    "member_keys",
    "member_count",
    "summary",
    "p1",
    "notified_at",
)


def _incidents(members: list[tuple[datetime, str, str]]) -> list[list[Any]]:
    """One incident per day of flagged tickets, as triage would have kept it
    (keyed by its first member, already notified): reports count them."""
    by_day: dict[Any, list[tuple[datetime, str, str]]] = {}
    for m in sorted(members):
        by_day.setdefault(m[0].date(), []).append(m)
    return [
        [
            ms[0][1],
            ms[0][0],
            ms[-1][0],
            [k for _, k, _ in ms],
            len(ms),
            ms[0][2],
            len(ms) >= 10,
            ms[-1][0],
        ]
        for ms in by_day.values()
    ]


def _copy(
    conn: psycopg.Connection, table: str, cols: tuple[str, ...], rows: list[list[Any]]
) -> None:
    with conn.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row(r)


def _copy_json(conn: psycopg.Connection, rows: list[list[Any]]) -> None:
    from psycopg.types.json import Jsonb

    cols = ("ticket_id", "at", "actor", "model_version", "original", "corrected")
    with conn.cursor().copy(f"COPY label_corrections ({', '.join(cols)}) FROM STDIN") as cp:
        for r in rows:
            cp.write_row([*r[:4], Jsonb(r[4]), Jsonb(r[5])])
