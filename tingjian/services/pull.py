"""What every pull connector's service needs: topics, an acknowledged send and
the checkpoint store, opened once and closed once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kafka import KafkaProducer

from config import Settings
from core.kafka import ensure_topics
from core.store.schema import require_schema
from ingest.base import Send
from ingest.checkpoints import CheckpointStore
from models import Topics
from tingjian.wiring import acknowledged_sender


@dataclass
class ConnectorIO:
    topics: Topics
    send: Send
    store: CheckpointStore
    producer: KafkaProducer

    def close(self) -> None:
        self.producer.flush(timeout=5)
        self.producer.close(timeout=5)
        self.store.close()


def open_io(settings: Settings, checkpoint_scope: str, client_suffix: str) -> ConnectorIO:
    """``checkpoint_scope`` names the connector instance in the checkpoint tables
    (``email:user@host``, ``social:weibo``): data, never a metric label."""
    require_schema(settings.postgres.dsn, "connector checkpoints")
    topics = Topics(settings.kafka.topic_prefix)
    ensure_topics(settings.kafka, topics)
    send, producer = acknowledged_sender(settings.kafka, client_suffix, 60.0)
    return ConnectorIO(
        topics, send, CheckpointStore(settings.postgres.dsn, checkpoint_scope), producer
    )


class Poller(Protocol):
    stop: threading.Event

    def run(self) -> None: ...


@dataclass
class PullService:
    """A pull connector as a Service: its poller, its I/O, its health document."""

    name: str
    io: ConnectorIO
    poller: Poller
    health_doc: Callable[[], dict[str, Any]]
    metrics_port: int | None

    def run(self, stop: threading.Event) -> None:
        self.poller.stop = stop
        self.poller.run()

    def health(self) -> dict[str, Any]:
        return self.health_doc()

    def close(self) -> None:
        self.io.close()
