"""Shadow mode: a candidate model labels the same items as the live one,
beside it, and only its disagreements are kept; tickets never see it.
Domain only: the comparison, and a port to store it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from core.metrics import SHADOW_DISAGREEMENTS
from triage.classifier import Classifier, Prediction

HEADS = ("type", "priority", "sentiment")


@dataclass(frozen=True)
class Compared:
    channel: str
    source_id: str
    live_labels: dict[str, str]


@dataclass(frozen=True)
class Disagreement:
    channel: str
    source_id: str
    head: str
    live_label: str
    live_confidence: float
    shadow_label: str
    shadow_confidence: float


class ShadowStore(Protocol):
    def record(
        self,
        live_version: str,
        shadow_version: str,
        compared: Sequence[Compared],
        disagreements: Sequence[Disagreement],
    ) -> list[str]:
        """Store both (idempotent per item); the heads of the disagreements
        newly stored (a redelivered item adds none)."""
        ...


def _labels(p: Prediction) -> dict[str, tuple[str, float]]:
    return {
        "type": (p.type, p.type_confidence),
        "priority": (p.priority, p.priority_confidence),
        "sentiment": (p.sentiment, p.sentiment_confidence),
    }


def compare(
    keys: Sequence[tuple[str, str]], live: Sequence[Prediction], shadow: Sequence[Prediction]
) -> tuple[list[Compared], list[Disagreement]]:
    """Per item (channel, source_id), the heads where the two models' labels differ."""
    compared: list[Compared] = []
    out: list[Disagreement] = []
    for (channel, source_id), lp, sp in zip(keys, live, shadow, strict=True):
        a, b = _labels(lp), _labels(sp)
        compared.append(Compared(channel, source_id, {h: a[h][0] for h in HEADS}))
        for h in HEADS:
            if a[h][0] != b[h][0]:
                out.append(Disagreement(channel, source_id, h, a[h][0], a[h][1], b[h][0], b[h][1]))
    return compared, out


class ShadowRunner:
    """Runs the shadow classifier on what the live one just labeled (the
    engine's observer) and writes the comparison at the end of the batch."""

    def __init__(self, classifier: Classifier, store: ShadowStore) -> None:
        self.classifier = classifier
        self._store = store
        self._pending: list[tuple[str, list[Compared], list[Disagreement]]] = []

    def observe(
        self,
        keys: Sequence[tuple[str, str]],
        texts: Sequence[str],
        live: Sequence[Prediction],
        live_version: str,
    ) -> None:
        shadow = self.classifier.predict(list(texts))
        compared, disagreements = compare(keys, live, shadow)
        self._pending.append((live_version, compared, disagreements))

    def flush(self) -> int:
        """Store what was observed; count each disagreement stored once."""
        stored = 0
        pending, self._pending = self._pending, []
        for live_version, compared, disagreements in pending:
            heads = self._store.record(
                live_version, self.classifier.version, compared, disagreements
            )
            for h in heads:
                SHADOW_DISAGREEMENTS.labels(h).inc()
            stored += len(heads)
        return stored

    def discard(self) -> None:
        self._pending = []
