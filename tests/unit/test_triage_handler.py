"""The triage stage's batch handling, with the engine and Kafka replaced by
recorders: an outage is retried (never dead-lettered), a poisoned item is."""

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from core.errors import StoreError
from models import DeadLetter, FeedbackReceived, Quarantined, Topics
from triage.service import TriageHandler


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"") -> Any:
        self.sent.append((topic, value))
        return SimpleNamespace(get=lambda timeout=None: None)

    def flush(self, timeout: float | None = None) -> None:
        pass


def rec(i: int, value: bytes) -> Any:
    return SimpleNamespace(
        topic="t.feedback.received", partition=0, offset=i, key=b"k", value=value
    )


def item(i: int) -> bytes:
    return (
        FeedbackReceived(
            channel="web_form", source_id=f"s{i}", received_at=datetime.now(UTC), text=f"第{i}条"
        )
        .model_dump_json()
        .encode()
    )


class Engine:
    def __init__(self, fail: type[Exception] | None = None, poison: str | None = None) -> None:
        self.fail, self.poison = fail, poison

    def triage_batch(self, items: list[FeedbackReceived], now: datetime) -> list[Any]:
        if self.fail:
            raise self.fail("database down")
        if self.poison and any(i.source_id == self.poison for i in items):
            raise ValueError("model blew up on this one")
        return [Quarantined(feedback=i, reason="spam", quarantined_at=now) for i in items]


def test_store_outage_propagates_and_nothing_is_dead_lettered() -> None:
    p = Producer()
    h = TriageHandler(Engine(fail=StoreError), p, Topics("t."))  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        h.handle([rec(0, item(0)), rec(1, item(1))])
    assert p.sent == []


def test_poisoned_item_is_dead_lettered_alone() -> None:
    p = Producer()
    h = TriageHandler(Engine(poison="s1"), p, Topics("t."))  # type: ignore[arg-type]
    h.handle([rec(0, item(0)), rec(1, item(1)), rec(2, b"not json")])
    dlq = [DeadLetter.model_validate_json(v) for t, v in p.sent if t == "t.feedback.dlq"]
    assert sorted(d.source_offset for d in dlq) == [1, 2]
    assert {d.error_type for d in dlq} == {"ValueError", "ValidationError"}
    quarantined = [
        Quarantined.model_validate_json(v) for t, v in p.sent if t == "t.feedback.quarantine"
    ]
    assert [q.feedback.source_id for q in quarantined] == ["s0"]
