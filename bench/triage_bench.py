"""Triage throughput on one core: short messages (~80 chars) and emails (~2 KB),
with and without dedup. Prints figures; asserts nothing.

    OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python -m bench.triage_bench
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime

from config import load_settings
from models import Customer, FeedbackReceived
from tingjian.data_tools import default_corpus
from tingjian.wiring import build_engine
from triage.engine import TriageEngine

N_SHORT = 20_000
N_EMAIL = 2_000
BATCH = 500


def corpus() -> list[str]:
    return [
        json.loads(line)["text"]
        for path in sorted(default_corpus().glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def short_items(texts: list[str], n: int, rnd: random.Random) -> list[FeedbackReceived]:
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        t = rnd.choice(texts)
        while len(t) < 80:
            t += rnd.choice(texts)
        t = t[:80]
        out.append(
            FeedbackReceived(
                channel="app_review",
                source_id=f"s{i}",
                received_at=now,
                text=t,
                customer=Customer(phone=f"139{rnd.randrange(10**8):08d}"),
            )
        )
    return out


def email_items(texts: list[str], n: int, rnd: random.Random) -> list[FeedbackReceived]:
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        body = "您好，\n" + "\n".join(rnd.choice(texts) for _ in range(8))
        quoted = "\n\n------------------ 原始邮件 ------------------\n发件人: 客服\n" + "\n".join(
            "> " + rnd.choice(texts) for _ in range(8)
        )
        text = body + "\n\n发自我的iPhone" + quoted
        while len(text.encode()) > 2048:  # ~2 KB of UTF-8
            text = text[: int(len(text) * 0.9)]
        out.append(
            FeedbackReceived(
                channel="email",
                source_id=f"e{i}",
                received_at=now,
                subject="关于订单的问题",
                text=text,
                customer=Customer(email=f"u{rnd.randrange(10**6)}@example.com"),
            )
        )
    return out


def run(engine: TriageEngine, items: list[FeedbackReceived]) -> float:
    now = datetime.now(UTC)
    start = time.perf_counter()
    for i in range(0, len(items), BATCH):
        engine.triage_batch(items[i : i + BATCH], now)
    return len(items) / (time.perf_counter() - start)


def main() -> None:
    settings = load_settings()
    rnd = random.Random(5)
    texts = corpus()
    shorts, emails = short_items(texts, N_SHORT, rnd), email_items(texts, N_EMAIL, rnd)
    avg_short = sum(len(i.text) for i in shorts) / len(shorts)
    avg_email = sum(len(i.text.encode()) for i in emails) / len(emails)
    # The stream's own wiring (tingjian triage), with the dedup index in memory.
    warm = build_engine(settings, durable_dedup=False)
    print(
        f"model {warm.classifier.version}; short messages avg {avg_short:.0f} chars, emails avg {avg_email / 1024:.1f} KB"
    )
    warm.triage_batch(shorts[:200], datetime.now(UTC))  # OpenCC and jieba load on first use
    import jieba

    start = time.perf_counter()
    for it in shorts:
        jieba.lcut(it.text)
    print(
        f"{'jieba.lcut alone, short':<24} {len(shorts) / (time.perf_counter() - start):8.0f} msg/s"
        "  (the reference of issue 14: the whole triage pass against one segmentation)"
    )
    for dedup in (False, True):
        for name, items in (("short", shorts), ("email", emails)):
            engine = build_engine(settings, durable_dedup=False)
            if not dedup:
                engine.dedup = None
            rate = run(engine, items)
            print(
                f"{name:<6} dedup={'on ' if dedup else 'off'}  {rate:8.0f} msg/s  ({len(items)} messages, batches of {BATCH})"
            )
    print(
        "dedup here uses the in-memory store; the stream adds one PostgreSQL round trip per batch"
    )


if __name__ == "__main__":
    main()
