"""The hard-mail corpus (tests/fixtures/mail, built by make_corpus.py): every
charset case, reply style, auto-reply, bounce and MIME bomb gets the outcome
it should, and no mail raises."""

import json
from pathlib import Path

import pytest

from ingest.email.parse import parse_mail

DIR = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
EXPECTED: dict[str, dict[str, object]] = json.loads(
    (DIR / "expected.json").read_text(encoding="utf-8")
)


def test_corpus_is_big_enough() -> None:
    assert len(EXPECTED) >= 40


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_mail(name: str) -> None:
    exp = EXPECTED[name]
    out = parse_mail((DIR / f"{name}.eml").read_bytes())
    assert out.kind == exp["outcome"], (out.reason, out.detail)
    if "reason" in exp:
        assert out.reason == exp["reason"]
    if out.kind != "accept":
        assert out.item is None
        return
    item = out.item
    assert item is not None
    text = item.text
    for s in exp.get("contains", []):  # type: ignore[attr-defined]
        assert s in text, (s, text)
    for s in exp.get("absent", []):  # type: ignore[attr-defined]
        assert s not in text, (s, text)
    if "subject" in exp:
        assert item.subject == exp["subject"]
    if "sender" in exp:
        assert item.customer.name == exp["sender"]
    for f in exp.get("flags", []):  # type: ignore[attr-defined]
        assert f in item.flags, (f, item.flags)
    if "suspect" in exp:
        assert ("charset_suspect" in item.flags) == exp["suspect"]
    if "attachments" in exp:
        assert [[a.name, a.content_type, a.size] for a in item.attachments] == exp["attachments"]
    if "source_prefix" in exp:
        assert item.source_id.startswith(str(exp["source_prefix"]))
    else:
        assert item.source_id.endswith("@corpus.tingjian.test")
    assert "\ufffd" not in text or "charset_suspect" in item.flags
