"""What the triage domain needs from the outside, as small interfaces.

The engine and the deduplicator depend on these; the PostgreSQL adapter
(``triage/dedup_store.py``) and the in-memory store implement them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from models import FeedbackReceived
from triage.normalize import Normalized


@dataclass(frozen=True)
class DedupVerdict:
    duplicate_of: str | None  # source key of the earlier item this one merges into
    repeat_count: int
    incident: bool
    # The incident this item belongs to (key of its first member) and its size.
    incident_key: str | None = None
    incident_size: int = 0
    incident_p1: bool = False  # past the configured count: P1
    merge_reasons: tuple[str, ...] = ()  # the signals that made it a repeat


class DedupEntry(NamedTuple):
    """One item in the duplicate index (table ``dedup_entries``)."""

    source_key: str
    customer_key: str
    root_key: str
    received_at: datetime
    digest: str
    shingles: frozenset[str]
    type: str
    repeat_count: int
    incident: bool
    entities: frozenset[str] = frozenset()  # hashed reference numbers, models, amounts
    topics: frozenset[str] = frozenset()  # taxonomy topics (SPEC §3) of the item


class DedupStore(Protocol):
    def load(
        self, customer_keys: Sequence[str], source_keys: Sequence[str], since: datetime
    ) -> list[DedupEntry]: ...

    def save(self, rows: Sequence[DedupEntry]) -> None: ...


class IdentityStore(Protocol):
    """Contact link keys -> the person key they were first seen with."""

    def load_links(self, link_keys: Sequence[str]) -> dict[str, str]: ...

    def save_links(self, links: Sequence[tuple[str, str, datetime]]) -> None: ...


class BurstEntry(NamedTuple):
    """A recent problem item, for incident detection (table ``incident_bursts``)."""

    source_key: str
    who: str
    received_at: datetime
    bands: tuple[str, ...]
    shingles: frozenset[str]
    incident_key: str | None


class IncidentUpdate(NamedTuple):
    """What one batch saw of an incident; upserted into ``incidents``."""

    incident_key: str
    first_seen: datetime
    last_seen: datetime
    member_keys: tuple[str, ...]
    summary: str  # masked
    p1: bool


class BurstStore(Protocol):
    def load_bursts(
        self, bands: Sequence[str], source_keys: Sequence[str], since: datetime
    ) -> list[BurstEntry]: ...

    def save_bursts(
        self, rows: Sequence[BurstEntry], incidents: Sequence[IncidentUpdate]
    ) -> int: ...  # how many incidents are new

    def purge(self, dedup_before: datetime, bursts_before: datetime) -> int: ...


class Deduplicator(Protocol):
    def begin_batch(
        self,
        pairs: Sequence[tuple[str | None, FeedbackReceived]],
        texts: Sequence[str] | None = None,
    ) -> None: ...

    def end_batch(self, now: datetime | None = None) -> None: ...

    def check(
        self,
        item: FeedbackReceived,
        cust_key: str | None,
        norm: Normalized,
        type_: str,
        topics: Sequence[str] = (),
    ) -> DedupVerdict: ...


class SegmentLookup(Protocol):
    """Customer segments from CRM data (the ``customers`` table), by customer key."""

    def __call__(self, customer_keys: Sequence[str]) -> dict[str, str]: ...


class KeywordExtractor(Protocol):
    def __call__(self, text: str, k: int) -> tuple[str, ...]: ...


def no_keywords(text: str, k: int) -> tuple[str, ...]:
    return ()
