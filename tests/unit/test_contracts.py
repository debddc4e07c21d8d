from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from models import FeedbackReceived, Topics


def _item(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "channel": "web_form",
        "source_id": "s1",
        "received_at": datetime(2026, 1, 5, 3, 0, tzinfo=UTC).isoformat(),
        "text": "闪退",
    }
    base.update(kw)
    return base


def test_roundtrip_keeps_schema_version() -> None:
    item = FeedbackReceived.model_validate(_item())
    again = FeedbackReceived.model_validate_json(item.model_dump_json())
    assert again == item
    assert again.schema_version == 1


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        FeedbackReceived.model_validate(_item(colour="red"))


def test_newer_schema_version_is_rejected() -> None:
    with pytest.raises(ValidationError):
        FeedbackReceived.model_validate(_item(schema_version=2))


def test_naive_timestamp_is_rejected() -> None:
    with pytest.raises(ValidationError):
        FeedbackReceived.model_validate(_item(received_at="2026-01-05T03:00:00"))


def test_topics_live_in_one_place_and_take_a_prefix() -> None:
    t = Topics("x.")
    assert t.all() == (
        "x.feedback.received",
        "x.feedback.triaged",
        "x.feedback.quarantine",
        "x.feedback.dlq",
        "x.crm.notifications",
    )


def test_nul_characters_are_dropped_at_the_contract() -> None:
    item = FeedbackReceived.model_validate(_item(text="闪\x00退", subject="a\x00b"))
    assert item.text == "闪退" and item.subject == "ab"


def test_a_dead_letter_always_fits() -> None:
    import base64
    import hashlib

    from core.dead_letter import MAX_PAYLOAD_BYTES, dead_letter

    big = b"x" * (5 * 1024 * 1024)
    dl = dead_letter("triage", ValueError("too big"), big, topic="t", partition=1, offset=7)
    assert len(dl.model_dump_json()) < 1_000_000
    assert dl.truncated and dl.payload_bytes == len(big)
    assert dl.payload_sha256 == hashlib.sha256(big).hexdigest()
    assert len(base64.b64decode(dl.payload_b64)) == MAX_PAYLOAD_BYTES
    small = dead_letter("triage", ValueError("bad"), b"{}")
    assert not small.truncated and base64.b64decode(small.payload_b64) == b"{}"
