"""Drift watch. In the stream: per head, the live model's label distribution
and mean confidence over the last hour and day (Prometheus gauges). Offline:
the last week's labels (from the store) against the training data's (the
model card's counts), as total variation distance. Domain only."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.metrics import LABEL_CONFIDENCE, LABEL_SHARE
from models import vocabulary
from triage.classifier import Prediction

WINDOWS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
VOCAB: dict[str, tuple[str, ...]] = {
    "type": tuple(vocabulary.TYPES),
    "priority": tuple(vocabulary.PRIORITIES),
    "sentiment": tuple(vocabulary.SENTIMENTS),
}


class DriftGauges:
    """Minute buckets of (count, confidence sum) per head and label; the
    gauges are recomputed after each batch. Memory: a day of minutes."""

    def __init__(self, clock: type[datetime] = datetime) -> None:
        self._buckets: dict[datetime, dict[tuple[str, str], list[float]]] = defaultdict(dict)
        self._clock = clock

    def observe(
        self,
        keys: Sequence[tuple[str, str]],
        texts: Sequence[str],
        preds: Sequence[Prediction],
        version: str,
        now: datetime | None = None,
    ) -> None:
        del keys, texts, version
        now = now or self._clock.now().astimezone()
        minute = now.replace(second=0, microsecond=0)
        bucket = self._buckets[minute]
        for p in preds:
            for head, (label, conf) in {
                "type": (p.type, p.type_confidence),
                "priority": (p.priority, p.priority_confidence),
                "sentiment": (p.sentiment, p.sentiment_confidence),
            }.items():
                cell = bucket.setdefault((head, label), [0.0, 0.0])
                cell[0] += 1
                cell[1] += conf
        self.publish(now)

    def figures(self, now: datetime) -> dict[str, dict[str, tuple[dict[str, float], float]]]:
        """window -> head -> (share per label, mean confidence)."""
        for m in [m for m in self._buckets if m < now - WINDOWS["day"]]:
            del self._buckets[m]
        out: dict[str, dict[str, tuple[dict[str, float], float]]] = {}
        for window, span in WINDOWS.items():
            counts: dict[str, dict[str, float]] = {h: {} for h in VOCAB}
            confs: dict[str, float] = dict.fromkeys(VOCAB, 0.0)
            for minute, cells in self._buckets.items():
                if minute < now - span:
                    continue
                for (head, label), (n, c) in cells.items():
                    counts[head][label] = counts[head].get(label, 0.0) + n
                    confs[head] += c
            out[window] = {}
            for head, by_label in counts.items():
                total = sum(by_label.values())
                shares = {
                    lab: (by_label.get(lab, 0.0) / total if total else 0.0) for lab in VOCAB[head]
                }
                out[window][head] = (shares, confs[head] / total if total else 0.0)
        return out

    def publish(self, now: datetime) -> None:
        for window, heads in self.figures(now).items():
            for head, (shares, mean_conf) in heads.items():
                for label, share in shares.items():
                    LABEL_SHARE.labels(head, label, window).set(share)
                LABEL_CONFIDENCE.labels(head, window).set(mean_conf)


@dataclass(frozen=True)
class HeadDrift:
    head: str
    distance: float  # total variation distance, 0..1
    reference: dict[str, float]
    recent: dict[str, float]
    n_recent: int
    moved: bool


def distribution(counts: Mapping[str, float]) -> dict[str, float]:
    total = float(sum(counts.values()))
    return {k: (v / total if total else 0.0) for k, v in counts.items()}


def compare_distributions(
    reference: Mapping[str, Mapping[str, float]],
    recent: Mapping[str, Mapping[str, float]],
    threshold: float,
) -> list[HeadDrift]:
    """Per head, TVD = half the L1 distance between the two label shares."""
    out = []
    for head in VOCAB:
        ref = distribution({k: reference.get(head, {}).get(k, 0.0) for k in VOCAB[head]})
        cur_counts = {k: recent.get(head, {}).get(k, 0.0) for k in VOCAB[head]}
        cur = distribution(cur_counts)
        n = int(sum(cur_counts.values()))
        tvd = 0.5 * sum(abs(ref[k] - cur[k]) for k in VOCAB[head]) if n else 0.0
        out.append(HeadDrift(head, tvd, ref, cur, n, bool(n) and tvd > threshold))
    return out
