"""``tingjian triage``: feedback.received -> feedback.triaged | quarantine | dlq."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from config import Settings
from core.consumer_loop import ConsumerLoop
from core.kafka import BrokerProbe, ensure_topics, make_consumer, make_producer
from core.store.schema import require_schema
from models import Topics
from tingjian.wiring import build_engine
from triage.drift import DriftGauges
from triage.engine import TriageEngine
from triage.registry import Registry
from triage.reload import ModelWatcher
from triage.service import TriageHandler
from triage.shadow import ShadowRunner
from triage.shadow_store import PostgresShadowStore


@dataclass
class TriageService:
    settings: Settings
    engine: TriageEngine
    producer: KafkaProducer
    topics: Topics
    watcher: ModelWatcher
    metrics_port: int | None
    shadow: ShadowRunner | None = None
    name: str = "triage"
    loop: ConsumerLoop | None = None
    broker: BrokerProbe = field(init=False)

    def __post_init__(self) -> None:
        self.broker = BrokerProbe(self.settings.kafka.bootstrap_servers)

    def run(self, stop: threading.Event) -> None:
        t = self.settings.triage
        consumer = make_consumer(
            self.settings.kafka, group_id=t.group_id, max_poll_records=t.batch_size
        )
        handler = TriageHandler(
            self.engine, self.producer, self.topics, watcher=self.watcher, shadow=self.shadow
        )
        self.loop = ConsumerLoop(
            consumer, [self.topics.received], handler, stop, poll_timeout_ms=t.poll_timeout_ms
        )
        self.loop.run()

    def health(self) -> dict[str, Any]:
        kafka_ok = self.broker()
        last_error = self.loop.last_error if self.loop else None
        return {
            "ok": kafka_ok and last_error is None,
            "kafka": kafka_ok,
            "batches": self.loop.batches_done if self.loop else 0,
            "last_error": last_error,
            "model_version": self.engine.classifier.version,
            "model_refused": self.watcher.refused,
            "shadow_version": self.shadow.classifier.version if self.shadow else None,
            # A warning, not a failure: SLAs there count weekends only.
            "calendar_uncovered_years": sorted(self.engine.calendar_gaps),
        }

    def close(self) -> None:
        self.producer.flush(timeout=5)
        self.producer.close(timeout=5)


def build(settings: Settings, metrics_port: int | None = None) -> TriageService:
    # Triage keeps its dedup index in the store: it must be migrated.
    require_schema(settings.postgres.dsn, "dedup index")
    engine = build_engine(settings)
    engine.observers.append(DriftGauges().observe)
    shadow = None
    if settings.triage.shadow_version:
        registry = Registry(Path(settings.triage.registry_dir))
        shadow = ShadowRunner(
            registry.load(settings.triage.shadow_version),
            PostgresShadowStore(settings.postgres.dsn),
        )
        engine.observers.append(shadow.observe)
    topics = Topics(settings.kafka.topic_prefix)
    ensure_topics(settings.kafka, topics)
    return TriageService(
        settings=settings,
        engine=engine,
        producer=make_producer(settings.kafka, client_suffix="-triage"),
        topics=topics,
        watcher=ModelWatcher(engine, settings.triage.model_path),
        metrics_port=settings.triage.metrics_port if metrics_port is None else metrics_port,
        shadow=shadow,
    )
