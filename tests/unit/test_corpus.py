"""The project's own labeled corpus (data/CARD.md) and its frozen test split."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "data" / "corpus").glob("*.jsonl"))
FROZEN = ROOT / "data" / "frozen" / "test.jsonl"
FAMILIES = (
    "core_down",
    "money_loss",
    "data_loss",
    "account_stolen",
    "safety",
    "public_opinion",
    "mass_impact",
)


def _rows(paths: list[Path]) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for p in paths
        for line in p.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def test_every_file_follows_the_guidelines() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "check_corpus.py"), *map(str, CORPUS), str(FROZEN)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_the_corpus_covers_what_the_card_promises() -> None:
    rows = _rows(CORPUS)
    assert len({r["industry"] for r in rows}) >= 10
    for key, values in (
        ("channel", ("email", "web_form", "social", "app_review", "survey")),
        ("type", ("bug", "ux", "suggestion", "complaint", "inquiry", "praise", "spam")),
        ("priority", ("P1", "P2", "P3", "P4")),
        ("sentiment", ("negative", "neutral", "positive")),
    ):
        seen = Counter(r[key] for r in rows)
        assert all(seen[v] >= 30 for v in values), (key, seen)
    families = Counter(r["p1_family"] for r in rows)
    assert all(families[f] >= 60 for f in FAMILIES), families
    negatives = Counter(r["hard_negative"] for r in rows)
    assert all(negatives[f] >= 10 for f in FAMILIES), negatives
    styles = Counter(r["style"] for r in rows)
    assert styles["english"] >= 20 and styles["mixed_en"] >= 40
    assert styles["traditional"] + styles["cantonese"] >= 40


def test_the_frozen_split_is_frozen() -> None:
    recorded = (ROOT / "data" / "frozen" / "SHA256SUMS").read_text(encoding="utf-8").split()[0]
    assert hashlib.sha256(FROZEN.read_bytes()).hexdigest() == recorded
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert recorded in readme, "the README states the frozen split's sha256"


def _shingles(text: str) -> set[str]:
    t = re.sub(r"\W+", "", text.lower())
    return {t[i : i + 5] for i in range(max(1, len(t) - 4))}


def test_no_frozen_item_is_in_the_corpus_or_close_to_one() -> None:
    train = [_shingles(str(r["text"])) for r in _rows(CORPUS)]
    index: dict[str, list[int]] = {}
    for i, s in enumerate(train):
        for g in s:
            index.setdefault(g, []).append(i)
    close = []
    for r in _rows([FROZEN]):
        s = _shingles(str(r["text"]))
        hits = Counter(i for g in s for i in index.get(g, ()))
        for i, shared in hits.most_common(3):
            if shared / len(s | train[i]) >= 0.6:
                close.append((r["id"], i))
    assert close == []
