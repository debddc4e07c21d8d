"""kafka-python behind a small interface; its errors become TransportError."""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
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
    @property
    def bootstrap_timeout_ms(self) -> int: ...
    @property
    def reconnect_backoff_max_ms(self) -> int: ...


def _client_options(cfg: KafkaSettings, client_suffix: str) -> dict[str, Any]:
    return {
        "bootstrap_servers": cfg.bootstrap_servers.split(","),
        "client_id": f"{cfg.client_id}{client_suffix}",
        "bootstrap_timeout_ms": cfg.bootstrap_timeout_ms,
        "reconnect_backoff_ms": 50,
        "reconnect_backoff_max_ms": cfg.reconnect_backoff_max_ms,
    }


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
            **_client_options(cfg, client_suffix),
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
            **_client_options(cfg, client_suffix),
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


def read_to_end(bootstrap_servers: str, topic: str, idle_s: float = 5.0) -> Iterator[Any]:
    """Every record of a topic, from its first to its end as of the call (not
    a consumer group: an operator's reading, repeated in full each time).
    Stops early when the broker sends nothing for ``idle_s`` (the rest past
    retention, or the broker gone quiet)."""
    try:
        c = KafkaConsumer(
            bootstrap_servers=bootstrap_servers.split(","),
            enable_auto_commit=False,
            max_partition_fetch_bytes=64 * 1024 * 1024,
        )
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or ())]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        left = {tp: end for tp, end in c.end_offsets(tps).items() if end > 0}
    except KafkaError as exc:
        raise TransportError(f"cannot read {topic}: {exc}") from exc
    try:
        while left:
            try:
                batch = c.poll(timeout_ms=int(idle_s * 1000))
            except KafkaError as exc:
                raise TransportError(f"cannot read {topic}: {exc}") from exc
            if not batch:
                break
            for tp, records in batch.items():
                for r in records:
                    if tp in left and r.offset < left[tp]:
                        yield r
                    if tp in left and r.offset + 1 >= left[tp]:
                        del left[tp]
    finally:
        c.close()


def ensure_topics(cfg: KafkaSettings, topics: Topics | None = None) -> list[str]:
    """Create the pipeline's topics if missing; return the ones created."""
    topics = topics or Topics(cfg.topic_prefix)
    try:
        admin = KafkaAdminClient(
            **_client_options(cfg, "-admin"), request_timeout_ms=cfg.request_timeout_ms
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


def broker_answers(bootstrap_servers: str, timeout_s: float = 2.0) -> bool:
    """Healthcheck: some broker answers an ApiVersions request now. Not the
    client's cached metadata (which stays "fine" while the broker is dead), and
    not a TCP connect (a paused broker's kernel still accepts connections)."""
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout_s) as sock:
                sock.settimeout(timeout_s)
                client = b"tingjian-health"
                # ApiVersions (key 18) v0: size, key, version, correlation id, client id.
                body = struct.pack(">hhih", 18, 0, 7, len(client)) + client
                sock.sendall(struct.pack(">i", len(body)) + body)
                head = _read_exactly(sock, 8)
                if head is not None and struct.unpack(">ii", head)[1] == 7:
                    return True
        except (OSError, ValueError):
            continue
    return False


def _read_exactly(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class BrokerProbe:
    """``broker_answers`` remembered for a second: /healthz may be polled often."""

    def __init__(self, bootstrap_servers: str, ttl_s: float = 1.0) -> None:
        self.servers, self.ttl_s = bootstrap_servers, ttl_s
        self._at, self._ok = -1e9, False
        self._lock = threading.Lock()

    def __call__(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._at >= self.ttl_s:
                self._ok, self._at = broker_answers(self.servers), now
            return self._ok


class LazyProducer:
    """A producer made on first use, so that a service starts (and answers
    503) while Kafka is down; attempts are at least ``retry_s`` apart."""

    def __init__(self, cfg: KafkaSettings, client_suffix: str, retry_s: float = 1.0) -> None:
        self.cfg, self.client_suffix, self.retry_s = cfg, client_suffix, retry_s
        self._producer: KafkaProducer | None = None
        self._last_try = -1e9
        self._lock = threading.Lock()
        self._topics_ready = False

    def get(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                if time.monotonic() - self._last_try < self.retry_s:
                    raise TransportError("kafka unavailable (retrying)")
                self._last_try = time.monotonic()
                if not self._topics_ready:
                    ensure_topics(self.cfg)
                    self._topics_ready = True
                self._producer = make_producer(self.cfg, client_suffix=self.client_suffix)
            return self._producer

    def close(self, timeout: float = 5) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=timeout)
                self._producer = None
