"""Duplicate detection (SPEC §9): same customer + same issue merges; different
customers never merge, but a burst of similar items from many customers is
flagged as an incident.

Customers are compared by keyed hash only. The per-customer index lives in a
store (PostgreSQL in the stream, memory in batch mode): a batch loads the
entries of the customers it contains, decides, then saves its new entries, so
verdicts survive restarts and a redelivered item gets its first verdict again.
The topic is keyed by customer, so one worker owns a customer at a time.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from models import FeedbackReceived
from triage.normalize import Normalized
from triage.ports import DedupEntry as Row
from triage.ports import DedupStore, DedupVerdict

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_STILL = re.compile(
    r"(还是没|仍然没|依然没|又一次|再次|第[二三四五六七八九十\d]+次|还没(有)?(解决|处理|修|退|到|回复)|怎么还|到现在还|催一下|跟进一下)"
)


def shingles(text: str, n: int = 2) -> frozenset[str]:
    t = _NOISE.sub("", text.lower())
    return frozenset(t[i : i + n] for i in range(max(1, len(t) - n + 1)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def resemblance(a: frozenset[str], b: frozenset[str]) -> float:
    """Mean of Jaccard and containment: a re-send that adds a few words
    ("你们的…还是…") stays close, while two issues sharing a phrase do not."""
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return (inter / len(a | b) + inter / min(len(a), len(b))) / 2


@dataclass
class MemoryDedupStore:
    """Batch mode and tests: the same index, in a dict keyed like the table."""

    rows: dict[str, Row] = field(default_factory=dict)
    by_customer: dict[str, list[Row]] = field(default_factory=dict)

    def load(
        self, customer_keys: Sequence[str], source_keys: Sequence[str], since: datetime
    ) -> list[Row]:
        out = {
            r.source_key: r
            for c in customer_keys
            for r in self.by_customer.get(c, [])
            if r.received_at >= since
        }
        for k in source_keys:
            if k in self.rows:
                out[k] = self.rows[k]
        return sorted(out.values(), key=lambda r: (r.received_at, r.source_key))

    def save(self, rows: Sequence[Row]) -> None:
        for r in rows:
            if r.source_key not in self.rows:
                self.rows[r.source_key] = r
                self.by_customer.setdefault(r.customer_key, []).append(r)


@dataclass
class Deduplicator:
    store: DedupStore = field(default_factory=MemoryDedupStore)
    window: timedelta = timedelta(days=30)
    similarity: float = 0.55
    incident_threshold: int = 5
    incident_window: timedelta = timedelta(hours=1)
    bucket_cap: int = 64
    # Many customers praising or asking the same thing is not an incident:
    # only problems are checked for bursts (and the check is the costly part).
    incident_types: frozenset[str] = frozenset({"bug", "ux", "complaint"})
    max_candidates: int = 32
    _by_customer: dict[str, list[Row]] = field(default_factory=dict)
    _seen: dict[str, Row] = field(default_factory=dict)
    _new: list[Row] = field(default_factory=list)
    # MinHash bands -> recent items: burst candidates without comparing against
    # every recent item. Kept in memory: it spans one hour, a restart forgets it.
    _buckets: dict[tuple[int, int, int], deque[tuple[datetime, str, frozenset[str]]]] = field(
        default_factory=dict
    )

    def begin_batch(self, pairs: Sequence[tuple[str | None, FeedbackReceived]]) -> None:
        custs = sorted({c for c, _ in pairs if c})
        keys = [i.source_key for _, i in pairs]
        oldest = min((i.received_at for _, i in pairs), default=None)
        self._by_customer, self._seen, self._new = {}, {}, []
        if oldest is None:
            return
        for r in self.store.load(custs, keys, oldest - self.window):
            self._seen[r.source_key] = r
            self._by_customer.setdefault(r.customer_key, []).append(r)

    def end_batch(self) -> None:
        self.store.save(self._new)
        self._new = []

    def check(
        self, item: FeedbackReceived, cust_key: str | None, norm: Normalized, type_: str
    ) -> DedupVerdict:
        key = item.source_key
        if key in self._seen:  # a redelivery is the same item, not a repeat
            r = self._seen[key]
            dup = r.root_key if r.root_key != key else None
            return DedupVerdict(dup, r.repeat_count, r.incident)
        sig = shingles(norm.model_text)
        digest = hashlib.sha1(_NOISE.sub("", norm.model_text).encode()).hexdigest()
        at = item.received_at
        incident = type_ in self.incident_types and self._burst(at, cust_key or key, sig)
        if not cust_key:
            return DedupVerdict(None, 0, incident)  # unknown sender: never merged
        entries = [
            e
            for e in self._by_customer.get(cust_key, [])
            if timedelta(0) <= at - e.received_at <= self.window
        ]
        best: Row | None = None
        best_sim = 0.0
        for e in entries:
            sim = 1.0 if e.digest == digest else resemblance(sig, e.shingles)
            if sim > best_sim:
                best, best_sim = e, sim
        root: str | None = None
        if best is not None and best_sim >= self.similarity:
            root = best.root_key
        elif entries and _STILL.search(norm.text):
            # "still not fixed", in other words: a follow-up on the latest issue
            same_type = [e for e in entries if e.type == type_] or entries
            root = same_type[-1].root_key
        repeat = 0
        if root:
            repeat = 1 + sum(
                1
                for e in self._by_customer.get(cust_key, [])
                if e.root_key == root and e.source_key != root
            )
        row = Row(key, cust_key, root or key, at, digest, sig, type_, repeat, incident)
        self._by_customer.setdefault(cust_key, []).append(row)
        self._seen[key] = row
        self._new.append(row)
        return DedupVerdict(root, repeat, incident)

    def _burst(self, at: datetime, who: str, sig: frozenset[str]) -> bool:
        need = self.incident_threshold - 1
        entry = (at, who, sig)
        candidates: dict[str, frozenset[str]] = {}
        for band in _bands(sig):
            q = self._buckets.setdefault(band, deque())
            while q and (at - q[0][0] > self.incident_window or len(q) > self.bucket_cap):
                q.popleft()
            for _, w, s in reversed(q):  # newest first: a burst is recent
                if w != who and len(candidates) < self.max_candidates:
                    candidates.setdefault(w, s)  # one check per customer, their latest item
            q.append(entry)
        if len(candidates) < need:
            return False
        similar = 0
        for s in candidates.values():
            if resemblance(sig, s) >= self.similarity:
                similar += 1
                if similar >= need:
                    return True
        return False


_SALTS = np.array([0x5BD1E995 * k + 0x2545F491 for k in range(1, 9)], dtype=np.int64)


def _bands(sig: frozenset[str]) -> list[tuple[int, int, int]]:
    """4 bands of 2 MinHash values: similar sets share a band with high probability.

    One hash per shingle, eight cheap XOR permutations of it, in one numpy op.
    """
    if not sig:
        return []
    hs = np.fromiter((hash(s) for s in sig), dtype=np.int64, count=len(sig))
    mins = (hs[:, None] ^ _SALTS[None, :]).min(axis=0).tolist()
    return [(b, mins[2 * b], mins[2 * b + 1]) for b in range(4)]


def build_deduplicator(
    store: DedupStore,
    *,
    window_days: int,
    incident_threshold: int,
    incident_window_minutes: int,
) -> Deduplicator:
    return Deduplicator(
        store=store,
        window=timedelta(days=window_days),
        incident_threshold=incident_threshold,
        incident_window=timedelta(minutes=incident_window_minutes),
    )
