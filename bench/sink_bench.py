"""The CRM sink's write rate beside PostgreSQL COPY of the same rows, in one run.

    python -m bench.sink_bench [--dsn DSN] [--items 20000] [--sizes 100,500,2000]

On its own database (default tingjian_bench_sink, dropped and created again):
for each batch size, ``CrmStore.write_batch`` of new FeedbackTriaged items
(numbers, tickets, ticket_feedback, events and offsets, one transaction per
batch), then the same with 20 % of the items repeats of open tickets (merges);
after each, the ticket rows it wrote are COPYed into an empty table shaped like
``tickets`` (same indexes) in batches of the same size, one transaction each:
what PostgreSQL itself takes on this machine at that moment. Prints items/s
of the write (tickets/s for new items), items/s with the sink's contract
parsing (``FeedbackTriaged.model_validate_json``) counted too, COPY rows/s and
the ratio of the write to COPY.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg

from config import load_business_rules, load_settings
from core.store.schema import migrate
from models import Customer, FeedbackReceived, FeedbackTriaged
from sinks.crm.store import CrmStore
from triage.classifier import KeywordClassifier
from triage.engine import TriageEngine

DSN = "postgresql://tingjian:tingjian@127.0.0.1:15432/tingjian_bench_sink"
FMT = "CRM{date:%Y%m%d}{seq:04d}"
TZ = ZoneInfo("Asia/Shanghai")
TEXTS = (
    "更新到最新版本后APP一打开就闪退,重装了也没用",
    "昨天下单时支付页面提示失败,我又付了一次,麻烦查一下是不是扣了两次钱",
    "退款申请要填的东西太多了,找了半天才找到入口",
    "建议增加批量导出订单的功能,每个月对账的时候一个个导太麻烦了",
    "快递三天了还没到,物流信息一直不更新,客服电话也打不通",
)


def _templates() -> list[FeedbackTriaged]:
    engine = TriageEngine(
        load_business_rules(load_settings().business), KeywordClassifier(), "k" * 16, TZ
    )
    now = datetime.now(UTC)
    fbs = [
        FeedbackReceived(
            channel="web_form",
            source_id=f"tpl-{i}",
            received_at=now,
            text=t,
            customer=Customer(name="王先生", phone="13800000000"),
        )
        for i, t in enumerate(TEXTS)
    ]
    out = [r for r in engine.triage_batch(fbs, now) if isinstance(r, FeedbackTriaged)]
    assert len(out) == len(TEXTS)
    return out


def _items(
    templates: list[FeedbackTriaged], run: str, n: int, merge_share: float, rng: random.Random
) -> list[FeedbackTriaged]:
    """``n`` distinct items; with ``merge_share`` > 0 that share repeats one of
    the first 200 items (open tickets by then: they are in earlier batches)."""
    out: list[FeedbackTriaged] = []
    for i in range(n):
        tpl = templates[i % len(templates)]
        fb = tpl.feedback.model_copy(
            update={
                "source_id": f"{run}-{i}",
                "customer": Customer(name=f"客户{i}", phone=f"139{i:08d}"),
            }
        )
        tr = tpl.triage
        if i >= 2_000 and rng.random() < merge_share:
            tr = tr.model_copy(
                update={
                    "duplicate_of": f"web_form:{run}-{rng.randrange(200)}",
                    "repeat_count": 1,
                    "merge_reasons": ("bench",),
                    "priority": rng.choice(("P1", "P2", "P3", "P4")),
                }
            )
        out.append(tpl.model_copy(update={"feedback": fb, "triage": tr}))
    return out


def _fresh(admin: str, dsn: str) -> None:
    name = dsn.rpartition("/")[2]
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    migrate(dsn)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE TABLE copy_tickets (LIKE tickets INCLUDING ALL)")


def _copy_rate(dsn: str, run: str, size: int) -> float:
    """COPY the tickets this run wrote into copy_tickets, ``size`` rows a
    transaction; rows/s (the rows are read out first, untimed)."""
    with psycopg.connect(dsn) as c:
        c.execute("TRUNCATE copy_tickets")
        c.commit()
        with c.cursor() as cur:
            out = bytearray()
            with cur.copy(
                "COPY (SELECT * FROM tickets WHERE source_id LIKE %s ORDER BY id) TO STDOUT",
                (f"{run}-%",),
            ) as cp:
                for block in cp:
                    out += block
        # Text COPY escapes newlines inside values: one line is one row.
        rows = bytes(out).splitlines(keepends=True)
        t0 = time.perf_counter()
        for k in range(0, len(rows), size):
            with c.transaction(), c.cursor() as cur, cur.copy("COPY copy_tickets FROM STDIN") as cp:
                cp.write(b"".join(rows[k : k + size]))
        return len(rows) / (time.perf_counter() - t0)


def _line(msg: str) -> None:
    print(msg, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", default=os.environ.get("TINGJIAN_BENCH_SINK_DSN", DSN))
    ap.add_argument("--items", type=int, default=20_000, help="items per case")
    ap.add_argument("--sizes", default="100,500,2000")
    ns = ap.parse_args()
    admin = ns.dsn.rpartition("/")[0] + "/postgres"
    _fresh(admin, ns.dsn)
    templates = _templates()
    rng = random.Random(7)
    _line(f"sink bench: {ns.items} items per case, database {ns.dsn.rpartition('/')[2]}")
    _line(
        f"{'case':<24}{'items/s':>9}{'+parse/s':>12}{'created':>9}{'merged':>8}"
        f"{'COPY rows/s':>13}{'ratio':>8}"
    )
    for size in (int(s) for s in ns.sizes.split(",")):
        for merge_share in (0.0, 0.2):
            run = f"b{size}m{int(merge_share * 100)}"
            raw = [
                i.model_dump_json().encode()
                for i in _items(templates, run, ns.items, merge_share, rng)
            ]
            store = CrmStore(ns.dsn, FMT, TZ)
            created = merged = 0
            parse_s = write_s = 0.0
            for k in range(0, len(raw), size):
                t0 = time.perf_counter()
                batch = [FeedbackTriaged.model_validate_json(r) for r in raw[k : k + size]]
                t1 = time.perf_counter()
                c, m, _ = store.write_batch(batch, run, {("bench", 0): k + size})
                write_s += time.perf_counter() - t1
                parse_s += t1 - t0
                created, merged = created + c, merged + m
            rate, with_parse = len(raw) / write_s, len(raw) / (write_s + parse_s)
            store.close()
            assert created + merged == len(raw), (created, merged)
            copy = _copy_rate(ns.dsn, run, size)
            name = f"batch {size}" + (" +20% merges" if merge_share else " new")
            _line(
                f"{name:<24}{rate:>9,.0f}{with_parse:>12,.0f}{created:>9}{merged:>8}"
                f"{copy:>13,.0f}{rate / copy:>8.1%}"
            )
    _line(f"uptime: {os.popen('uptime').read().strip()}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
