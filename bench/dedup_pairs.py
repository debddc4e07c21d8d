"""Duplicate-pair benchmark on data/dedup/ (issue 9): runs the stream's engine
(the trained bundle when present, dedup in memory) over each file in send
order and scores the merge links as pairs.

    .venv/bin/python -m bench.dedup_pairs            # dev and test
    .venv/bin/python -m bench.dedup_pairs dev        # dev only (tune here)

A predicted pair is two items the engine put in one group (duplicate_of /
related_to, transitively); a true pair two items of one ``issue``. A
cross-customer merge is a predicted pair of two ``person`` values.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

from models import Customer, FeedbackReceived, FeedbackTriaged
from triage.engine import TriageEngine

DATA = Path(__file__).resolve().parents[1] / "data" / "dedup"
T0 = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)


def load(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return sorted(rows, key=lambda r: (r["hours"], r["id"]))


def item(r: dict[str, Any]) -> FeedbackReceived:
    return FeedbackReceived(
        channel=r["channel"],
        source_id=r["id"],
        received_at=T0 + timedelta(hours=r["hours"]),
        text=r["text"],
        customer=Customer(
            name=r.get("name"), phone=r.get("phone"), email=r.get("email"), account=r.get("account")
        ),
    )


def score(engine: TriageEngine, rows: list[dict[str, Any]]) -> dict[str, Any]:
    parent: dict[str, str] = {r["id"]: r["id"] for r in rows}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    links: list[tuple[str, str, tuple[str, ...]]] = []
    for r in rows:  # one item per batch: the worst case for the batch-local state
        out = engine.triage_batch([item(r)], T0 + timedelta(hours=r["hours"]))[0]
        if not isinstance(out, FeedbackTriaged):
            continue
        t = out.triage
        other = t.duplicate_of or getattr(t, "related_to", None)
        if other:
            sid = other.partition(":")[2]
            links.append((r["id"], sid, tuple(getattr(t, "merge_reasons", ()))))
            parent[find(r["id"])] = find(sid)
    by_id = {r["id"]: r for r in rows}
    pred = {(a, b) for a, b in combinations(sorted(by_id), 2) if find(a) == find(b)}
    true = {
        (a, b) for a, b in combinations(sorted(by_id), 2) if by_id[a]["issue"] == by_id[b]["issue"]
    }
    tp = len(pred & true)
    p = tp / len(pred) if pred else 1.0
    rec = tp / len(true) if true else 1.0
    f1 = 2 * p * rec / (p + rec) if p + rec else 0.0
    cross = sum(1 for a, b in pred if by_id[a]["person"] != by_id[b]["person"])
    return {
        "items": len(rows),
        "true_pairs": len(true),
        "predicted_pairs": len(pred),
        "precision": round(p, 3),
        "recall": round(rec, 3),
        "f1": round(f1, 3),
        "cross_customer_merges": cross,
        "missed": sorted(true - pred),
        "wrong": sorted(pred - true),
        "links": links,
    }


def engine() -> TriageEngine:
    from config import load_settings
    from tingjian.wiring import build_engine

    return build_engine(load_settings(), durable_dedup=False)


def main(argv: list[str]) -> int:
    names = argv or ["dev", "test"]
    for name in names:
        res = score(engine(), load(DATA / f"{name}.jsonl"))
        print(
            f"{name}: {res['items']} items, {res['true_pairs']} true pairs:"
            f" precision {res['precision']:.3f} recall {res['recall']:.3f} F1 {res['f1']:.3f}"
            f" cross-customer merges {res['cross_customer_merges']}"
        )
        if name == "dev":  # errors are shown for dev only: test is never looked into
            print("  missed:", res["missed"])
            print("  wrong:", res["wrong"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
