"""Duplicate detection (SPEC §9): same customer + same issue merges; different
customers never merge, but a burst of similar items from many customers is
flagged as an incident.

The index here lives in memory (per triage worker: the topic is keyed by
customer so one worker sees all of a customer's items). It is rebuilt empty on
restart; a durable store is the next step (see the README).
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from models import FeedbackReceived
from triage.engine import DedupVerdict
from triage.normalize import Normalized

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_STILL = re.compile(r"(还是没|仍然没|依然没|又一次|再次|第[二三四五六七八九十\d]+次|还没(有)?(解决|处理|修|退|到)|怎么还|到现在还)")


def shingles(text: str, n: int = 2) -> frozenset[str]:
    t = _NOISE.sub("", text.lower())
    return frozenset(t[i : i + n] for i in range(max(1, len(t) - n + 1)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@dataclass
class _Entry:
    source_key: str
    root: str
    at: datetime
    sig: frozenset[str]
    digest: str
    type: str


@dataclass
class InMemoryDeduplicator:
    window: timedelta = timedelta(days=30)
    similarity: float = 0.55
    incident_threshold: int = 5
    incident_window: timedelta = timedelta(hours=1)
    bucket_cap: int = 200
    _by_customer: dict[str, list[_Entry]] = field(default_factory=dict)
    _repeats: dict[str, int] = field(default_factory=dict)
    _seen: dict[str, DedupVerdict] = field(default_factory=dict)
    # MinHash bands -> recent items: candidates for the burst check without
    # comparing against every recent item.
    _buckets: dict[tuple[int, int, int], deque[tuple[datetime, str, frozenset[str]]]] = field(default_factory=dict)

    def check(self, item: FeedbackReceived, cust_key: str | None, norm: Normalized, type_: str) -> DedupVerdict:
        key = item.source_key
        if key in self._seen:  # a redelivery is the same item, not a repeat
            return self._seen[key]
        sig = shingles(norm.model_text)
        digest = hashlib.sha1(_NOISE.sub("", norm.model_text).encode()).hexdigest()
        at = item.received_at
        incident = self._burst(at, cust_key or key, sig)
        dup_root: str | None = None
        if cust_key:
            entries = [e for e in self._by_customer.get(cust_key, []) if at - e.at <= self.window]
            self._by_customer[cust_key] = entries
            best: _Entry | None = None
            best_sim = 0.0
            for e in entries:
                sim = 1.0 if e.digest == digest else jaccard(sig, e.sig)
                if sim > best_sim:
                    best, best_sim = e, sim
            if best is not None and best_sim >= self.similarity:
                dup_root = best.root
            elif entries and _STILL.search(norm.text):
                # "still not fixed": a follow-up in other words on the latest issue
                same_type = [e for e in entries if e.type == type_] or entries
                dup_root = same_type[-1].root
            entries.append(_Entry(key, dup_root or key, at, sig, digest, type_))
        repeat = 0
        if dup_root:
            repeat = self._repeats.get(dup_root, 0) + 1
            self._repeats[dup_root] = repeat
        verdict = DedupVerdict(duplicate_of=dup_root, repeat_count=repeat, incident=incident)
        self._seen[key] = verdict
        return verdict

    def _burst(self, at: datetime, who: str, sig: frozenset[str]) -> bool:
        similar: set[str] = set()
        entry = (at, who, sig)
        for band in _bands(sig):
            q = self._buckets.setdefault(band, deque())
            while q and (at - q[0][0] > self.incident_window or len(q) > self.bucket_cap):
                q.popleft()
            for _, w, s in q:
                if w != who and w not in similar and jaccard(sig, s) >= self.similarity:
                    similar.add(w)
            q.append(entry)
        return len(similar) + 1 >= self.incident_threshold


_SALTS = tuple(range(1, 9))


def _bands(sig: frozenset[str]) -> list[tuple[int, int, int]]:
    """4 bands of 2 MinHash values: similar sets share a band with high probability."""
    if not sig:
        return []
    mins = [min(hash((salt, s)) for s in sig) for salt in _SALTS]
    return [(b, mins[2 * b], mins[2 * b + 1]) for b in range(4)]


def build_deduplicator(settings: Any) -> InMemoryDeduplicator:
    t = settings.triage
    return InMemoryDeduplicator(
        window=timedelta(days=t.dedup_window_days),
        incident_threshold=t.incident_threshold,
        incident_window=timedelta(minutes=t.incident_window_minutes),
    )
