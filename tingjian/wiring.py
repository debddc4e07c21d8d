"""Builders shared by the services and the data team's commands, so that
training, eval, classify and bench run exactly what the stream runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from kafka import KafkaProducer

from config import Settings, load_business_rules
from core.kafka import KafkaSettings, Outgoing, make_producer, send_all
from triage.dedup import MemoryDedupStore, build_deduplicator
from triage.dedup_store import PostgresDedupStore
from triage.engine import TriageEngine
from triage.model_loader import load_classifier
from triage.ports import DedupStore
from triage.segments_store import PostgresSegments


def timezone(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.business.timezone)  # validated with the settings


def build_engine(settings: Settings, *, durable_dedup: bool = True) -> TriageEngine:
    """The stream's engine; ``durable_dedup=False`` keeps the index in memory (batch mode)."""
    classifier, keywords = load_classifier(settings.triage.model_path)
    t = settings.triage
    store: DedupStore = (
        PostgresDedupStore(settings.postgres.dsn) if durable_dedup else MemoryDedupStore()
    )
    return TriageEngine(
        rules=load_business_rules(settings.business),
        classifier=classifier,
        hash_key=settings.privacy.hash_key,
        timezone=timezone(settings),
        review_threshold=t.review_threshold,
        spam_min_confidence=t.spam_min_confidence,
        dedup=build_deduplicator(
            store,
            window_days=t.dedup_window_days,
            incident_threshold=t.incident_threshold,
            incident_window_minutes=t.incident_window_minutes,
            incident_p1_count=t.incident_p1_count,
            hash_key=settings.privacy.hash_key,
        ),
        keywords=keywords,
        segments=PostgresSegments(settings.postgres.dsn) if durable_dedup else None,
    )


def acknowledged_sender(
    cfg: KafkaSettings, client_suffix: str, timeout_s: float
) -> tuple[Callable[[Sequence[Outgoing]], int], KafkaProducer]:
    """(send, producer): ``send(outs)`` returns once Kafka acknowledged every message."""
    producer = make_producer(cfg, client_suffix=client_suffix)

    def send(outs: Sequence[Outgoing]) -> int:
        return send_all(producer, outs, timeout_s)

    return send, producer
