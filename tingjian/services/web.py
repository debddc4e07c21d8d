"""``tingjian ingest web``: the web-form connector (ASGI app served by uvicorn).
It serves /metrics and /healthz on its own port."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from config import Settings
from core.errors import TransportError
from core.kafka import BrokerProbe, LazyProducer, Outgoing, send_all
from core.pg import ping
from core.store.numbering import NumberAllocator
from ingest.web.app import WebOptions, create_app
from models import Topics
from tingjian.runner import serve
from tingjian.wiring import timezone

log = logging.getLogger(__name__)


@dataclass
class WebService:
    settings: Settings
    producer: LazyProducer
    topics: Topics
    host: str
    port: int
    name: str = "web connector"
    metrics_port: int | None = None  # served by the app itself
    broker: BrokerProbe = field(init=False)

    def __post_init__(self) -> None:
        self.broker = BrokerProbe(self.settings.kafka.bootstrap_servers)

    def health(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"kafka": self.broker()}
        if self.settings.web.assign_numbers:
            # Numbers come from the store: without it every post would be a 503.
            doc["postgres"] = ping(self.settings.postgres.dsn)
        doc["ok"] = all(doc.values())
        return doc

    def run(self, stop: threading.Event) -> None:
        s, web = self.settings, self.settings.web
        allocator = (
            NumberAllocator(s.postgres.dsn, s.business.ticket_number_format, timezone(s))
            if web.assign_numbers
            else None
        )

        def publish(topic: str, key: bytes, value: bytes) -> None:
            send_all(self.producer.get(), [Outgoing(topic, key, value)], web.produce_timeout_s)

        opts = WebOptions(
            topic=self.topics.received,
            hash_key=s.privacy.hash_key,
            max_body_bytes=web.max_body_bytes,
            body_timeout_s=web.body_timeout_s,
            allowed_origins=tuple(web.allowed_origins),
            rate_limit_per_minute=web.rate_limit_per_minute,
            trusted_proxy_header=web.trusted_proxy_header,
            allocate_number=allocator.allocate if allocator else None,
        )
        serve(create_app(publish, opts, self.health), self.host, self.port, stop)

    def close(self) -> None:
        self.producer.close(timeout=5)


def build(settings: Settings, host: str | None = None, port: int | None = None) -> WebService:
    # Kafka may be down at start: the web answers 503 (and /healthz says why)
    # until it is back; the producer and the topics are made on first use.
    topics = Topics(settings.kafka.topic_prefix)
    producer = LazyProducer(settings.kafka, "-ingest-web")
    try:
        producer.get()
    except TransportError as exc:
        log.warning("kafka unavailable at start; answering 503 until it is back: %s", exc)
    return WebService(
        settings=settings,
        producer=producer,
        topics=topics,
        host=host or settings.web.host,
        port=settings.web.port if port is None else port,
    )
