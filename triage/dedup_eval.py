"""A synthetic duplicate benchmark built from the labeled feedback: the same
customer re-sends (verbatim, in Traditional script with other punctuation,
with words added, or as a "still not fixed" follow-up), sends a different issue,
and other customers send the very same text. Pairs are scored on the engine's
``duplicate_of`` links. It measures the mechanism, not real-world rewording."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from config.business import BusinessRules
from models import Customer, FeedbackReceived, FeedbackTriaged

_FOLLOW_UPS = ("还是没解决，", "催一下：", "第二次反馈了，", "到现在还没处理，")


def _s2t(text: str) -> str:
    import opencc

    return opencc.OpenCC("s2t").convert(text)  # type: ignore[no-any-return]


def _variants(text: str, rnd: random.Random) -> list[str]:
    first = text.split("。")[0].split("，")[0][:40]
    return [
        text,
        _s2t(text).replace("，", ",").replace("。", "!"),
        "你们好，" + text + "麻烦尽快！",
        rnd.choice(_FOLLOW_UPS) + first,
    ]


def build(
    texts: Sequence[str], n_customers: int = 200, seed: int = 7
) -> tuple[list[FeedbackReceived], set[tuple[str, str]], dict[str, str]]:
    rnd = random.Random(seed)
    t0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    items: list[FeedbackReceived] = []
    truth: set[tuple[str, str]] = set()  # (later source_id, root source_id)
    owner: dict[str, str] = {}
    pool = [t for t in texts if 20 <= len(t) <= 200]
    picks = rnd.sample(pool, n_customers * 2)
    for c in range(n_customers):
        phone = f"137{c:08d}"
        base, other = picks[2 * c], picks[2 * c + 1]
        root = f"c{c}-0"
        seq = [(root, base)]
        for k, v in enumerate(rnd.sample(_variants(base, rnd), 2), 1):
            seq.append((f"c{c}-{k}", v))
            truth.add((f"c{c}-{k}", root))
        seq.append((f"c{c}-x", other))  # a different issue: no link
        for j, (sid, text) in enumerate(seq):
            items.append(
                FeedbackReceived(
                    channel="email",
                    source_id=sid,
                    received_at=t0 + timedelta(hours=c, minutes=j),
                    text=text,
                    customer=Customer(phone=phone),
                )
            )
            owner[sid] = phone
        # another customer sends the same text: never a merge
        other_sid = f"o{c}"
        items.append(
            FeedbackReceived(
                channel="email",
                source_id=other_sid,
                received_at=t0 + timedelta(hours=c, minutes=9),
                text=base,
                customer=Customer(phone=f"136{c:08d}"),
            )
        )
        owner[other_sid] = f"136{c:08d}"
    items.sort(key=lambda i: i.received_at)
    return items, truth, owner


def evaluate(engine_factory: Any, texts: Sequence[str]) -> dict[str, Any]:
    items, truth, owner = build(texts)
    engine = engine_factory()
    pred: set[tuple[str, str]] = set()
    for i in range(0, len(items), 200):
        for res in engine.triage_batch(items[i : i + 200], datetime.now(UTC)):
            if isinstance(res, FeedbackTriaged) and res.triage.duplicate_of:
                pred.add((res.feedback.source_id, res.triage.duplicate_of.partition(":")[2]))
    tp = len(pred & truth)
    precision = tp / len(pred) if pred else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    cross = sum(1 for a, b in pred if owner[a] != owner[b])
    return {
        "items": len(items),
        "true_pairs": len(truth),
        "predicted_pairs": len(pred),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "cross_customer_merges": cross,
    }


def engine_factory(rules: BusinessRules, tz: ZoneInfo, hash_key: str) -> Any:
    """Engines with the keyword classifier and an in-memory index: the
    benchmark measures the duplicate mechanism, not the model."""
    from triage.classifier import KeywordClassifier
    from triage.dedup import Deduplicator
    from triage.engine import TriageEngine

    return lambda: TriageEngine(rules, KeywordClassifier(), hash_key, tz, dedup=Deduplicator())
