"""``tingjian sink crm``: feedback.triaged -> PostgreSQL tickets, exactly once."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaProducer

from config import Settings
from core.consumer_loop import ConsumerLoop
from core.kafka import BrokerProbe, ensure_topics, make_consumer, make_producer
from core.store.schema import require_schema
from models import Topics
from sinks.crm.sink import CrmSink
from sinks.crm.store import CrmStore
from tingjian.wiring import timezone


@dataclass
class CrmSinkService:
    settings: Settings
    store: CrmStore
    producer: KafkaProducer
    topics: Topics
    metrics_port: int | None
    name: str = "crm sink"
    loop: ConsumerLoop | None = None
    broker: BrokerProbe = field(init=False)

    def __post_init__(self) -> None:
        self.broker = BrokerProbe(self.settings.kafka.bootstrap_servers)

    def run(self, stop: threading.Event) -> None:
        s = self.settings.sink
        consumer = make_consumer(
            self.settings.kafka, group_id=s.group_id, max_poll_records=s.batch_size
        )
        sink = CrmSink(self.store, self.producer, self.topics.dlq, s.group_id)
        self.loop = ConsumerLoop(
            consumer, [self.topics.triaged], sink, stop, poll_timeout_ms=s.poll_timeout_ms
        )
        self.loop.run()

    def health(self) -> dict[str, Any]:
        db_ok = self.store.ping()
        kafka_ok = self.broker()
        last_error = self.loop.last_error if self.loop else None
        return {
            "ok": db_ok and kafka_ok and last_error is None,
            "postgres": db_ok,
            "kafka": kafka_ok,
            "batches": self.loop.batches_done if self.loop else 0,
            "last_error": last_error,
        }

    def close(self) -> None:
        self.producer.flush(timeout=5)
        self.producer.close(timeout=5)
        self.store.close()


def build(settings: Settings, metrics_port: int | None = None) -> CrmSinkService:
    require_schema(settings.postgres.dsn, "CRM store")
    topics = Topics(settings.kafka.topic_prefix)
    ensure_topics(settings.kafka, topics)
    return CrmSinkService(
        settings=settings,
        store=CrmStore(
            settings.postgres.dsn, settings.business.ticket_number_format, timezone(settings)
        ),
        producer=make_producer(settings.kafka, client_suffix="-sink-crm"),
        topics=topics,
        metrics_port=settings.sink.metrics_port if metrics_port is None else metrics_port,
    )
