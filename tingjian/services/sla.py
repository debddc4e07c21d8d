"""``tingjian sla watch``: the SLA clock. Every ``sla_clock.interval_s`` it
records the due warnings and breaches of open tickets (each once, with its
ticket event) and publishes them to the notifications topic (an outbox: a
mark is notified after Kafka acknowledged it, so a restart re-sends, never
loses; the idempotency key tells duplicates apart). It relays the other
ticket events too (created, incident, state changed, notes) by a cursor
moved after Kafka acknowledged them, for the webhook sink."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from config import Settings
from core.errors import StoreError, TransportError
from core.kafka import BrokerProbe, LazyProducer, Outgoing, send_all
from core.metrics import SLA_BREACHES, SLA_WARNINGS
from core.store.schema import require_schema
from crm.sla import due_marks
from crm.sla_store import SlaLedger
from models import Topics

log = logging.getLogger(__name__)


@dataclass
class SlaWatchService:
    settings: Settings
    ledger: SlaLedger
    producer: LazyProducer
    topics: Topics
    metrics_port: int | None
    name: str = "sla clock"
    passes: int = 0
    last_error: str | None = None
    broker: BrokerProbe = field(init=False)

    def __post_init__(self) -> None:
        self.broker = BrokerProbe(self.settings.kafka.bootstrap_servers)

    def one_pass(self, now: datetime | None = None) -> int:
        """Record what is due and publish what is pending; the number recorded."""
        now = now or datetime.now(UTC)
        warn = timedelta(minutes=self.settings.sla_clock.warn_before_minutes)
        dues = [d for t in self.ledger.open_clocks() for d in due_marks(t, now, warn)]
        new = self.ledger.record(dues, now) if dues else []
        for d in new:
            (SLA_BREACHES if d.mark == "breach" else SLA_WARNINGS).labels(d.priority, d.clock).inc()
        pending = self.ledger.pending_notifications()
        if pending:
            send_all(
                self.producer.get(),
                [Outgoing(self.topics.notifications, k, v) for _, k, v in pending],
                self.settings.web.produce_timeout_s,
            )
            self.ledger.mark_notified([i for i, _, _ in pending])
        incidents = self.ledger.pending_incidents()
        if incidents:
            send_all(
                self.producer.get(),
                [Outgoing(self.topics.notifications, k, v) for _, k, v in incidents],
                self.settings.web.produce_timeout_s,
            )
            self.ledger.mark_incidents_notified([i for i, _, _ in incidents])
        last, events = self.ledger.pending_events()
        if last is not None:
            send_all(
                self.producer.get(),
                [Outgoing(self.topics.notifications, k, v) for k, v in events],
                self.settings.web.produce_timeout_s,
            )
            self.ledger.advance_events(last)
        self.passes += 1
        return len(new)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                n = self.one_pass()
                self.last_error = None
                if n:
                    log.info("sla marks recorded", extra={"count": n})
            except (StoreError, TransportError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("sla pass failed; retrying", extra={"error": type(exc).__name__})
            stop.wait(max(0.0, self.settings.sla_clock.interval_s - (time.monotonic() - started)))

    def health(self) -> dict[str, Any]:
        kafka_ok = self.broker()
        return {
            "ok": kafka_ok and self.last_error is None,
            "kafka": kafka_ok,
            "passes": self.passes,
            "last_error": self.last_error,
        }

    def close(self) -> None:
        self.producer.close()
        self.ledger.close()


def build(settings: Settings, metrics_port: int | None = None) -> SlaWatchService:
    require_schema(settings.postgres.dsn, "SLA clock")
    return SlaWatchService(
        settings=settings,
        ledger=SlaLedger(settings.postgres.dsn),
        producer=LazyProducer(settings.kafka, "-sla"),
        topics=Topics(settings.kafka.topic_prefix),
        metrics_port=settings.sla_clock.metrics_port if metrics_port is None else metrics_port,
    )
