"""kafka-python behind a small interface; its errors become TransportError."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from core.errors import TransportError
from models.topics import Topics

log = logging.getLogger(__name__)


class KafkaSettings(Protocol):
    """What the adapter needs to know of the cluster (``config``'s KafkaSettings)."""

    @property
    def bootstrap_servers(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def request_timeout_ms(self) -> int: ...
    @property
    def topic_prefix(self) -> str: ...
    @property
    def partitions(self) -> int: ...
    @property
    def replication_factor(self) -> int: ...


@dataclass(frozen=True)
class Outgoing:
    topic: str
    key: bytes | None
    value: bytes


def make_producer(cfg: KafkaSettings, *, client_suffix: str = "") -> KafkaProducer:
    """Idempotent producer with acks=all: a write is ours only once every in-sync
    replica has it, and retries never duplicate or reorder it."""
    try:
        return KafkaProducer(
            bootstrap_servers=cfg.bootstrap_servers.split(","),
            client_id=f"{cfg.client_id}{client_suffix}",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=cfg.request_timeout_ms,
            max_block_ms=cfg.request_timeout_ms,
        )
    except KafkaError as exc:
        raise TransportError(f"kafka producer: {exc}") from exc


def make_consumer(
    cfg: KafkaSettings, *, group_id: str, max_poll_records: int, client_suffix: str = ""
) -> KafkaConsumer:
    try:
        return KafkaConsumer(
            bootstrap_servers=cfg.bootstrap_servers.split(","),
            client_id=f"{cfg.client_id}{client_suffix}",
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_poll_records,
            request_timeout_ms=max(cfg.request_timeout_ms, 30_000),
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
        )
    except KafkaError as exc:
        raise TransportError(f"kafka consumer: {exc}") from exc


def send_all(producer: KafkaProducer, messages: Iterable[Outgoing], timeout_s: float) -> int:
    """Send and wait until Kafka acknowledged every message; raise otherwise."""
    # Waiting on our own futures, not flush(): concurrent callers (the web
    # connector's threads) do not wait for each other's messages.
    try:
        # send() itself raises for a record too large or a closed producer.
        futures = [producer.send(m.topic, key=m.key, value=m.value) for m in messages]
        for f in futures:
            f.get(timeout=timeout_s)
    except KafkaError as exc:
        raise TransportError(f"kafka write not acknowledged: {exc}") from exc
    return len(futures)


def ensure_topics(cfg: KafkaSettings, topics: Topics | None = None) -> list[str]:
    """Create the pipeline's topics if missing; return the ones created."""
    topics = topics or Topics(cfg.topic_prefix)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=cfg.bootstrap_servers.split(","),
            client_id=f"{cfg.client_id}-admin",
            request_timeout_ms=cfg.request_timeout_ms,
        )
    except KafkaError as exc:
        raise TransportError(f"kafka admin: {exc}") from exc
    created: list[str] = []
    try:
        existing = set(admin.list_topics())
        for name in topics.all():
            if name in existing:
                continue
            try:
                admin.create_topics(
                    [NewTopic(name, cfg.partitions, cfg.replication_factor)],
                    validate_only=False,
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass
    except KafkaError as exc:
        raise TransportError(f"kafka admin: {exc}") from exc
    finally:
        admin.close()
    if created:
        log.info("created topics", extra={"topics": created})
    return created


def check_reachable(producer: Any, topic: str) -> bool:
    """Healthcheck: the broker answers a metadata request for our topic."""
    try:
        return producer.partitions_for(topic) is not None
    except KafkaError:
        return False
