"""Validate labeled corpus files against data/GUIDELINES.md and print counts.

Usage: python scripts/check_corpus.py data/corpus/*.jsonl
Exit code 1 with one line per problem when a file breaks the schema.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

CHANNELS = {"email", "web_form", "social", "app_review", "survey"}
TYPES = {"bug", "ux", "suggestion", "complaint", "inquiry", "praise", "spam"}
PRIORITIES = {"P1", "P2", "P3", "P4"}
SENTIMENTS = {"negative", "neutral", "positive"}
TOPICS = {"产品质量", "服务体验", "物流配送", "价格争议", "售后支持", "账户与支付"}
FAMILIES = {
    "core_down",
    "money_loss",
    "data_loss",
    "account_stolen",
    "safety",
    "public_opinion",
    "mass_impact",
}
STYLES = {
    "plain",
    "calm",
    "polite",
    "slang",
    "angry",
    "traditional",
    "cantonese",
    "mixed_en",
    "english",
    "emoji",
    "long_email",
}
KEYS = {
    "id",
    "industry",
    "channel",
    "subject",
    "text",
    "type",
    "priority",
    "sentiment",
    "topics",
    "p1_family",
    "hard_negative",
    "style",
    "template",
}


def check(path: Path, seen: dict[str, str], texts: dict[str, str]) -> list[str]:
    problems: list[str] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            d = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not JSON ({exc})")
            continue
        if set(d) != KEYS:
            problems.append(f"{where}: keys {sorted(set(d) ^ KEYS)} missing or extra")
            continue
        if d["id"] in seen:
            problems.append(f"{where}: id {d['id']} also in {seen[d['id']]}")
        seen[d["id"]] = where
        key = "".join(str(d["text"]).split())
        if key in texts:
            problems.append(f"{where}: same text as {texts[key]}")
        texts[key] = where
        if d["channel"] not in CHANNELS:
            problems.append(f"{where}: channel {d['channel']!r}")
        if d["type"] not in TYPES:
            problems.append(f"{where}: type {d['type']!r}")
        if d["priority"] not in PRIORITIES:
            problems.append(f"{where}: priority {d['priority']!r}")
        if d["sentiment"] not in SENTIMENTS:
            problems.append(f"{where}: sentiment {d['sentiment']!r}")
        if not isinstance(d["topics"], list) or not set(d["topics"]) <= TOPICS:
            problems.append(f"{where}: topics {d['topics']!r}")
        if d["style"] not in STYLES:
            problems.append(f"{where}: style {d['style']!r}")
        if (d["priority"] == "P1") != (d["p1_family"] is not None):
            problems.append(f"{where}: p1_family must be set exactly for P1")
        if d["p1_family"] is not None and d["p1_family"] not in FAMILIES:
            problems.append(f"{where}: p1_family {d['p1_family']!r}")
        if d["hard_negative"] is not None and (
            d["hard_negative"] not in FAMILIES or d["priority"] == "P1"
        ):
            problems.append(f"{where}: hard_negative {d['hard_negative']!r}")
        if (d["channel"] == "email") != bool(d["subject"]):
            problems.append(f"{where}: subject is for email items only (and required)")
        if not isinstance(d["text"], str) or len(d["text"].strip()) < 4:
            problems.append(f"{where}: text too short")
        if not str(d["template"]).strip():
            problems.append(f"{where}: empty template")
    return problems


def main(argv: list[str]) -> int:
    seen: dict[str, str] = {}
    texts: dict[str, str] = {}
    problems: list[str] = []
    rows = []
    for arg in argv:
        path = Path(arg)
        problems += check(path, seen, texts)
        rows += [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    for p in problems:
        print(p)
    print(f"{len(rows)} items in {len(argv)} files, {len(problems)} problems")
    for key in (
        "industry",
        "channel",
        "type",
        "priority",
        "sentiment",
        "style",
        "p1_family",
        "hard_negative",
    ):
        print(f"{key}: {dict(Counter(str(r.get(key)) for r in rows).most_common())}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
