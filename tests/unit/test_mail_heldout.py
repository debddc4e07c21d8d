"""The held-out hard-mail set (tests/fixtures/mail/heldout, built by
make_heldout.py, issue 13): each mail gets the outcome its manifest says, and
the text keeps the customer's words and nothing else.

``python tests/unit/test_mail_heldout.py`` prints the score (how many right)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.email.parse import MailOutcome, parse_mail

DIR = Path(__file__).resolve().parents[1] / "fixtures" / "mail" / "heldout"
MANIFEST: dict[str, dict[str, object]] = json.loads(
    (DIR / "manifest.json").read_text(encoding="utf-8")
)


def _strs(exp: dict[str, object], key: str) -> list[str]:
    value = exp.get(key, [])
    assert isinstance(value, list)
    return [str(v) for v in value]


def problems(exp: dict[str, object], out: MailOutcome) -> list[str]:
    """What is wrong with ``out`` against the manifest entry (empty: right)."""
    if out.kind != exp["outcome"]:
        return [f"outcome {out.kind} ({out.reason}: {out.detail}), expected {exp['outcome']}"]
    if "reason" in exp and out.reason != exp["reason"]:
        return [f"reason {out.reason}, expected {exp['reason']}"]
    if out.kind != "accept":
        return [] if out.item is None else ["a non-accept carries an item"]
    item = out.item
    assert item is not None
    text, wrong = item.text, []
    wrong += [f"missing {s!r}" for s in _strs(exp, "contains") if s not in text]
    wrong += [f"kept {s!r}" for s in _strs(exp, "absent") if s in text]
    wrong += [f"flag {f} not set" for f in _strs(exp, "flags") if f not in item.flags]
    wrong += [f"flag {f} set" for f in _strs(exp, "no_flags") if f in item.flags]
    if "starts" in exp and not text.startswith(str(exp["starts"])):
        wrong.append(f"text starts with {text[:3]!r}")
    if "sent_at" in exp and item.metadata.get("sent_at") != exp["sent_at"]:
        wrong.append(f"sent_at {item.metadata.get('sent_at')}")
    return wrong


def run(name: str) -> list[str]:
    try:
        out = parse_mail((DIR / f"{name}.eml").read_bytes())
    except Exception as exc:  # counted as wrong in the score, never hidden
        return [f"raised {type(exc).__name__}: {exc}"]
    return problems(MANIFEST[name], out)


def test_heldout_set_is_big_enough() -> None:
    assert len(MANIFEST) >= 30


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_heldout_mail(name: str) -> None:
    assert run(name) == []


def test_blank_line_bomb_is_parsed_in_linear_time() -> None:
    """200,000 blank lines: the quote, signature and disclaimer rules once
    anchored on ``^\\s*``, which is quadratic in blank lines (20,000 took 16 s)."""
    import time

    raw = (
        b"From: a <a@example.com>\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        + b" \n" * 200_000
        + "请退款".encode()
    )
    started = time.perf_counter()
    out = parse_mail(raw)
    assert time.perf_counter() - started < 3
    assert out.item is not None and out.item.text.endswith("请退款")


if __name__ == "__main__":  # pragma: no cover
    right = 0
    for name in sorted(MANIFEST):
        wrong = run(name)
        right += not wrong
        if wrong:
            print(f"WRONG {name}: {'; '.join(wrong)[:200]}")
    print(f"{right} of {len(MANIFEST)} right")


def test_inspect_email_does_not_crash_on_a_chinese_date(capsys: pytest.CaptureFixture[str]) -> None:
    from tingjian.tools import inspect_email

    assert inspect_email(str(DIR / "h04_date_chinese_text.eml")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["outcome"] == "accept"
    assert "date_unparsed" in doc["feedback"]["flags"]
    assert doc["feedback"]["metadata"]["sent_at"][:19] == doc["feedback"]["received_at"][:19]
