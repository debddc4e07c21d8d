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
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

import numpy as np

from core.metrics import INCIDENTS
from core.privacy import mask_text
from models import FeedbackReceived
from triage.normalize import Normalized
from triage.ports import BurstEntry, BurstStore, DedupStore, DedupVerdict, IncidentUpdate
from triage.ports import DedupEntry as Row
from triage.summary import summarize

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
    """Batch mode and tests: the same index, in dicts keyed like the tables."""

    rows: dict[str, Row] = field(default_factory=dict)
    by_customer: dict[str, list[Row]] = field(default_factory=dict)
    bursts: dict[str, BurstEntry] = field(default_factory=dict)
    incidents: dict[str, IncidentUpdate] = field(default_factory=dict)

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

    def load_bursts(
        self, bands: Sequence[str], source_keys: Sequence[str], since: datetime
    ) -> list[BurstEntry]:
        want, keys = set(bands), set(source_keys)
        return [
            b
            for b in self.bursts.values()
            if b.source_key in keys or (b.received_at >= since and want.intersection(b.bands))
        ]

    def save_bursts(self, rows: Sequence[BurstEntry], incidents: Sequence[IncidentUpdate]) -> int:
        for b in rows:
            self.bursts.setdefault(b.source_key, b)
        new = 0
        for u in incidents:
            old = self.incidents.get(u.incident_key)
            if old is None:
                new += 1
                self.incidents[u.incident_key] = u
            else:
                self.incidents[u.incident_key] = old._replace(
                    first_seen=min(old.first_seen, u.first_seen),
                    last_seen=max(old.last_seen, u.last_seen),
                    member_keys=tuple(sorted(set(old.member_keys) | set(u.member_keys))),
                    p1=old.p1 or u.p1,
                )
        return new

    def purge(self, dedup_before: datetime, bursts_before: datetime) -> int:
        gone = [k for k, r in self.rows.items() if r.received_at < dedup_before]
        for k in gone:
            r = self.rows.pop(k)
            self.by_customer[r.customer_key].remove(r)
        old = [k for k, b in self.bursts.items() if b.received_at < bursts_before]
        for k in old:
            del self.bursts[k]
        return len(gone) + len(old)


@dataclass
class Deduplicator:
    store: DedupStore = field(default_factory=MemoryDedupStore)
    window: timedelta = timedelta(days=30)
    similarity: float = 0.55
    incident_threshold: int = 5
    incident_window: timedelta = timedelta(hours=1)
    # An incident with this many customers within the window is P1 (SPEC §5).
    incident_p1_count: int = 10
    # Many customers praising or asking the same thing is not an incident:
    # only problems are checked for bursts (and the check is the costly part).
    incident_types: frozenset[str] = frozenset({"bug", "ux", "complaint"})
    max_candidates: int = 32
    # Burst state lives in a store shared by every worker (PostgreSQL in the
    # stream): the topic is keyed by customer, so one burst spans workers.
    bursts: BurstStore | None = None
    purge_every: timedelta = timedelta(minutes=10)
    _by_customer: dict[str, list[Row]] = field(default_factory=dict)
    _seen: dict[str, Row] = field(default_factory=dict)
    _new: list[Row] = field(default_factory=list)
    _recent: dict[str, BurstEntry] = field(default_factory=dict)
    _band_index: dict[str, list[str]] = field(default_factory=dict)
    _new_bursts: list[BurstEntry] = field(default_factory=list)
    _incidents: dict[str, IncidentUpdate] = field(default_factory=dict)
    _texts: dict[str, str] = field(default_factory=dict)
    _last_purge: datetime | None = None
    new_incidents: int = 0

    def __post_init__(self) -> None:
        if self.bursts is None:
            self.bursts = (
                cast(BurstStore, self.store)
                if hasattr(self.store, "load_bursts")
                else MemoryDedupStore()
            )

    def begin_batch(
        self,
        pairs: Sequence[tuple[str | None, FeedbackReceived]],
        texts: Sequence[str] | None = None,
    ) -> None:
        custs = sorted({c for c, _ in pairs if c})
        keys = [i.source_key for _, i in pairs]
        oldest = min((i.received_at for _, i in pairs), default=None)
        self._by_customer, self._seen, self._new = {}, {}, []
        self._recent, self._band_index, self._new_bursts, self._incidents = {}, {}, [], {}
        self._texts = {}
        if oldest is None:
            return
        for r in self.store.load(custs, keys, oldest - self.window):
            self._seen[r.source_key] = r
            self._by_customer.setdefault(r.customer_key, []).append(r)
        if texts is None:
            return
        bands: set[str] = set()
        for (_, item), text in zip(pairs, texts, strict=True):
            self._texts[item.source_key] = text
            bands.update(_bands(shingles(text)))
        assert self.bursts is not None
        for b in self.bursts.load_bursts(sorted(bands), keys, oldest - self.incident_window):
            self._remember(b)

    def _remember(self, b: BurstEntry) -> None:
        if b.source_key in self._recent:
            return
        self._recent[b.source_key] = b
        for band in b.bands:
            self._band_index.setdefault(band, []).append(b.source_key)

    def end_batch(self, now: datetime | None = None) -> None:
        self.store.save(self._new)
        assert self.bursts is not None
        if self._new_bursts or self._incidents:
            created = self.bursts.save_bursts(self._new_bursts, list(self._incidents.values()))
            self.new_incidents += created
            if created:
                INCIDENTS.inc(created)
        self._new, self._new_bursts, self._incidents = [], [], {}
        if now is not None and (
            self._last_purge is None or now - self._last_purge >= self.purge_every
        ):
            self.purge(now)

    def purge(self, now: datetime) -> int:
        """Retention (SPEC §10): the index and the burst state expire after their window."""
        assert self.bursts is not None
        self._last_purge = now
        return self.bursts.purge(now - self.window, now - 2 * self.incident_window)

    def check(
        self, item: FeedbackReceived, cust_key: str | None, norm: Normalized, type_: str
    ) -> DedupVerdict:
        key = item.source_key
        if key in self._seen:  # a redelivery is the same item, not a repeat
            r = self._seen[key]
            dup = r.root_key if r.root_key != key else None
            b = self._recent.get(key)
            return DedupVerdict(dup, r.repeat_count, r.incident, b.incident_key if b else None)
        sig = shingles(norm.model_text)
        digest = hashlib.sha1(_NOISE.sub("", norm.model_text).encode()).hexdigest()
        at = item.received_at
        inc_key: str | None = None
        inc_size = 0
        if type_ in self.incident_types:
            inc_key, inc_size = self._burst(item, cust_key or key, sig, norm.text)
        incident = inc_key is not None
        if not cust_key:
            p1 = inc_size >= self.incident_p1_count
            return DedupVerdict(None, 0, incident, inc_key, inc_size, p1)  # never merged
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
        p1 = inc_size >= self.incident_p1_count
        return DedupVerdict(root, repeat, incident, inc_key, inc_size, p1)

    def _burst(
        self, item: FeedbackReceived, who: str, sig: frozenset[str], text: str
    ) -> tuple[str | None, int]:
        """Similar recent items from other customers, from every worker (the
        burst store) and this batch; an incident from `incident_threshold` on."""
        at, key = item.received_at, item.source_key
        bands = tuple(_bands(sig))
        seen = self._recent.get(key)  # redelivered anonymous item: its first verdict
        if seen is not None and seen.incident_key is not None:
            inc = self._incidents.get(seen.incident_key)
            return seen.incident_key, len(inc.member_keys) if inc else self.incident_threshold
        cand: dict[str, BurstEntry] = {}
        for band in bands:
            for k in reversed(self._band_index.get(band, [])):
                b = self._recent[k]
                if (
                    k == key
                    or b.who == who
                    or not timedelta(0) <= at - b.received_at <= (self.incident_window)
                ):
                    continue
                if len(cand) < self.max_candidates and b.who not in cand:
                    cand[b.who] = b  # one check per customer, their latest item
        similar = [b for b in cand.values() if resemblance(sig, b.shingles) >= self.similarity]
        inc_key: str | None = None
        if len(similar) + 1 >= self.incident_threshold:
            known = sorted(b.incident_key for b in similar if b.incident_key)
            first = min(similar, key=lambda b: (b.received_at, b.source_key))
            inc_key = known[0] if known else first.source_key
        entry = BurstEntry(key, who, at, bands, sig, inc_key)
        if seen is None:
            self._remember(entry)
            self._new_bursts.append(entry)
        if inc_key is None:
            return None, 0
        members = {b.source_key for b in similar} | {key}
        old = self._incidents.get(inc_key)
        if old is not None:
            members |= set(old.member_keys)
        firsts = [b.received_at for b in similar] + [at]
        upd = IncidentUpdate(
            inc_key,
            min([*firsts, *([old.first_seen] if old else [])]),
            max([*firsts, *([old.last_seen] if old else [])]),
            tuple(sorted(members)),
            old.summary if old else mask_text(summarize(text)),
            len(members) >= self.incident_p1_count,
        )
        self._incidents[inc_key] = upd
        return inc_key, len(members)


_SALTS = np.array([0x5BD1E995 * k + 0x2545F491 for k in range(1, 9)], dtype=np.int64)


def _bands(sig: frozenset[str]) -> list[str]:
    """4 bands of 2 MinHash values: similar sets share a band with high probability.

    One hash per shingle, eight cheap XOR permutations of it, in one numpy op.
    """
    if not sig:
        return []
    # crc32, not hash(): bands are stored and compared across processes.
    hs = np.fromiter((zlib.crc32(s.encode()) for s in sig), dtype=np.int64, count=len(sig))
    mins = (hs[:, None] ^ _SALTS[None, :]).min(axis=0).tolist()
    return [f"{b}:{mins[2 * b]:x}:{mins[2 * b + 1]:x}" for b in range(4)]


def build_deduplicator(
    store: DedupStore,
    *,
    window_days: int,
    incident_threshold: int,
    incident_window_minutes: int,
    incident_p1_count: int = 10,
) -> Deduplicator:
    return Deduplicator(
        store=store,
        window=timedelta(days=window_days),
        incident_threshold=incident_threshold,
        incident_window=timedelta(minutes=incident_window_minutes),
        incident_p1_count=incident_p1_count,
    )
