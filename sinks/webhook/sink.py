"""The webhook sink: each notification (crm.notifications) to the targets
configured for its kind and department, signed, with an idempotency key,
retried with backoff and jitter. A target failing again and again opens its
circuit: the batch is rewound (offsets stay) and retried later, never lost; a
notification a target refuses for good (4xx) or that fails every attempt
while the circuit is closed goes to the DLQ with the reason."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from core.dead_letter import dead_letter
from core.errors import SourceError, TransportError
from core.kafka import Outgoing, send_all
from core.metrics import DEAD_LETTERS, WEBHOOK_DELIVERIES, Stage

log = logging.getLogger(__name__)
STAGE: Stage = "sink_webhook"


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    secret: str
    kinds: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()

    def wants(self, doc: dict[str, Any]) -> bool:
        return (not self.kinds or doc.get("kind") in self.kinds) and (
            not self.departments or doc.get("department") in self.departments
        )


@dataclass(frozen=True)
class Policy:
    timeout_s: float = 5.0
    max_attempts: int = 5
    backoff_base_s: float = 0.2
    backoff_max_s: float = 5.0
    breaker_failures: int = 5
    breaker_cooldown_s: float = 30.0


class Permanent(SourceError):
    """The receiver refused the notification itself (4xx): retrying will not help."""


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(target: Target, body: bytes, key: str, timeout_s: float) -> None:
    req = urllib.request.Request(
        target.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": key,
            "X-Tingjian-Signature": signature(target.secret, body),
            "User-Agent": "tingjian-webhook/1",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:
            r.read()
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code not in (408, 409, 425, 429):
            raise Permanent(f"{target.name} refused it: HTTP {exc.code}") from exc
        raise SourceError(f"{target.name}: HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise SourceError(f"{target.name}: {type(exc).__name__}: {exc}") from exc


@dataclass
class _Circuit:
    failures: int = 0
    open_until: float = 0.0


@dataclass
class WebhookSink:
    targets: Sequence[Target]
    producer: KafkaProducer
    dlq_topic: str
    policy: Policy = field(default_factory=Policy)
    send: Callable[[Target, bytes, str, float], None] = post
    sleep: Callable[[float], None] = time.sleep
    _circuits: dict[str, _Circuit] = field(default_factory=dict)
    stage: str = STAGE

    def on_assigned(self, consumer: KafkaConsumer, partitions: Sequence[TopicPartition]) -> None:
        pass  # offsets live in Kafka, committed after the batch

    def handle(self, records: Sequence[ConsumerRecord]) -> None:
        dead: list[Outgoing] = []
        for r in records:
            try:
                doc = json.loads(r.value)
                if not isinstance(doc, dict):
                    raise ValueError("a notification is a JSON object")
            except (ValueError, TypeError) as exc:
                dead.append(self._dlq(exc, r))
                continue
            key = str(doc.get("idempotency_key") or f"{r.topic}:{r.partition}:{r.offset}")
            for t in self.targets:
                if t.wants(doc):
                    failure = self._deliver(t, r.value, key)
                    if failure is not None:
                        dead.append(self._dlq(failure, r))
        if dead:
            send_all(self.producer, dead, 30.0)

    def _deliver(self, t: Target, body: bytes, key: str) -> Exception | None:
        """None once delivered; the error to dead-letter; raises TransportError
        while the target's circuit is open (the batch is kept for later)."""
        c = self._circuits.setdefault(t.name, _Circuit())
        if time.monotonic() < c.open_until:
            WEBHOOK_DELIVERIES.labels("circuit_open").inc()
            raise TransportError(f"webhook {t.name}: circuit open after {c.failures} failures")
        last: Exception | None = None
        for attempt in range(self.policy.max_attempts):
            try:
                self.send(t, body, key, self.policy.timeout_s)
                WEBHOOK_DELIVERIES.labels("delivered").inc()
                c.failures = 0
                return None
            except Permanent as exc:
                WEBHOOK_DELIVERIES.labels("dead_lettered").inc()
                return exc
            except SourceError as exc:
                last = exc
                WEBHOOK_DELIVERIES.labels("retried").inc()
                if attempt + 1 < self.policy.max_attempts:
                    delay = min(self.policy.backoff_max_s, self.policy.backoff_base_s * 2**attempt)
                    self.sleep(delay / 2 + random.uniform(0, delay / 2))  # jitter
        c.failures += 1
        if c.failures >= self.policy.breaker_failures:
            c.open_until = time.monotonic() + self.policy.breaker_cooldown_s
            log.warning("webhook circuit open", extra={"target": t.name, "failures": c.failures})
            raise TransportError(f"webhook {t.name}: circuit opened") from last
        WEBHOOK_DELIVERIES.labels("dead_lettered").inc()
        return last

    def _dlq(self, exc: BaseException, r: ConsumerRecord) -> Outgoing:
        DEAD_LETTERS.labels(STAGE).inc()
        dl = dead_letter(
            STAGE, exc, r.value or b"", topic=r.topic, partition=r.partition, offset=r.offset
        )
        return Outgoing(self.dlq_topic, r.key, dl.model_dump_json().encode())
