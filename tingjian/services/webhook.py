"""``tingjian sink webhook``: crm.notifications -> external CRMs and IM bots."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaProducer

from config import Settings
from core.consumer_loop import ConsumerLoop
from core.kafka import BrokerProbe, ensure_topics, make_consumer, make_producer
from models import Topics
from sinks.webhook.sink import Policy, Target, WebhookSink


@dataclass
class WebhookService:
    settings: Settings
    producer: KafkaProducer
    topics: Topics
    metrics_port: int | None
    name: str = "webhook sink"
    loop: ConsumerLoop | None = None
    broker: BrokerProbe = field(init=False)

    def __post_init__(self) -> None:
        self.broker = BrokerProbe(self.settings.kafka.bootstrap_servers)

    def sink(self) -> WebhookSink:
        w = self.settings.webhook
        return WebhookSink(
            targets=[
                Target(name, t.url, t.secret, tuple(t.kinds), tuple(t.departments))
                for name, t in w.targets.items()
            ],
            producer=self.producer,
            dlq_topic=self.topics.dlq,
            policy=Policy(
                timeout_s=w.timeout_s,
                max_attempts=w.max_attempts,
                backoff_base_s=w.backoff_base_s,
                backoff_max_s=w.backoff_max_s,
                breaker_failures=w.breaker_failures,
                breaker_cooldown_s=w.breaker_cooldown_s,
            ),
        )

    def run(self, stop: threading.Event) -> None:
        w = self.settings.webhook
        consumer = make_consumer(
            self.settings.kafka, group_id=w.group_id, max_poll_records=w.batch_size
        )
        self.loop = ConsumerLoop(
            consumer,
            [self.topics.notifications],
            self.sink(),
            stop,
            poll_timeout_ms=w.poll_timeout_ms,
        )
        self.loop.run()

    def health(self) -> dict[str, Any]:
        kafka_ok = self.broker()
        last_error = self.loop.last_error if self.loop else None
        return {
            "ok": kafka_ok and last_error is None,
            "kafka": kafka_ok,
            "targets": sorted(self.settings.webhook.targets),
            "batches": self.loop.batches_done if self.loop else 0,
            "last_error": last_error,
        }

    def close(self) -> None:
        self.producer.flush(timeout=5)
        self.producer.close(timeout=5)


def build(settings: Settings, metrics_port: int | None = None) -> WebhookService:
    topics = Topics(settings.kafka.topic_prefix)
    ensure_topics(settings.kafka, topics)
    return WebhookService(
        settings=settings,
        producer=make_producer(settings.kafka, client_suffix="-sink-webhook"),
        topics=topics,
        metrics_port=settings.webhook.metrics_port if metrics_port is None else metrics_port,
    )
