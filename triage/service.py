"""The triage stage: feedback.received -> feedback.triaged | quarantine | dlq."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from pydantic import ValidationError

from core.dead_letter import dead_letter
from core.errors import StoreError, TransportError
from core.kafka import Outgoing, send_all
from core.metrics import DEAD_LETTERS, ERRORS, MESSAGES_OUT, QUARANTINED
from models import FeedbackReceived, FeedbackTriaged, Quarantined, Topics
from triage.engine import TriageEngine
from triage.reload import ModelWatcher
from triage.shadow import ShadowRunner

log = logging.getLogger(__name__)


class TriageHandler:
    stage = "triage"

    def __init__(
        self,
        engine: TriageEngine,
        producer: KafkaProducer,
        topics: Topics,
        produce_timeout_s: float = 30.0,
        watcher: ModelWatcher | None = None,
        shadow: ShadowRunner | None = None,
    ) -> None:
        self._watcher = watcher
        self._shadow = shadow
        self._engine = engine
        self._producer = producer
        self._topics = topics
        self._timeout = produce_timeout_s

    def on_assigned(self, consumer: KafkaConsumer, partitions: Sequence[TopicPartition]) -> None:
        pass  # committed Kafka offsets are the checkpoint for this stage

    def idle(self) -> None:
        """Between batches with nothing to do: follow a promoted model anyway."""
        if self._watcher is not None:
            self._watcher.maybe_reload()

    def handle(self, records: Sequence[ConsumerRecord]) -> None:
        if self._watcher is not None:
            self._watcher.maybe_reload()  # between batches: one batch, one model
        if self._shadow is not None:
            self._shadow.discard()  # what a failed attempt at this batch observed
        out: list[Outgoing] = []
        items: list[tuple[ConsumerRecord, FeedbackReceived]] = []
        for r in records:
            try:
                items.append((r, FeedbackReceived.model_validate_json(r.value)))
            except (ValidationError, ValueError, TypeError) as exc:
                ERRORS.labels(self.stage, "ContractError").inc()
                out.append(self._dlq(exc, r))
        now = datetime.now(UTC)
        gaps = len(getattr(self._engine, "calendar_gaps", ()))
        try:
            results = self._engine.triage_batch([i for _, i in items], now)
        except (StoreError, TransportError):
            raise  # not the messages' fault: the loop rewinds and retries the batch
        except Exception:
            # One poisoned item must not block the partition: retry one by one
            # and dead-letter only the ones that still fail.
            log.exception("batch triage failed; retrying item by item")
            results = []
            for r, item in items:
                try:
                    results.extend(self._engine.triage_batch([item], now))
                except (StoreError, TransportError):
                    raise
                except Exception as exc:
                    ERRORS.labels(self.stage, type(exc).__name__).inc()
                    out.append(self._dlq(exc, r))
                    results.append(None)  # type: ignore[arg-type]
        uncovered: set[int] = getattr(self._engine, "calendar_gaps", set())
        if len(uncovered) > gaps:
            log.warning(
                "SLA computed past the holiday calendar (weekends only there): add the"
                " State Council notice to config/defaults/holidays.yaml",
                extra={"years": sorted(uncovered)},
            )
        for (r, _), res in zip(items, results, strict=True):
            if isinstance(res, FeedbackTriaged):
                out.append(Outgoing(self._topics.triaged, r.key, res.model_dump_json().encode()))
            elif isinstance(res, Quarantined):
                QUARANTINED.labels(res.reason).inc()
                out.append(Outgoing(self._topics.quarantine, r.key, res.model_dump_json().encode()))
        send_all(self._producer, out, self._timeout)
        for o in out:
            MESSAGES_OUT.labels(self.stage, o.topic).inc()
        if self._shadow is not None:
            try:
                self._shadow.flush()
            except StoreError as exc:
                # Shadow mode never holds tickets back: its rows for this batch are lost,
                # counted and logged.
                ERRORS.labels(self.stage, "ShadowStoreError").inc()
                log.error("shadow comparison not stored", extra={"error": str(exc)})

    def _dlq(self, exc: BaseException, r: ConsumerRecord) -> Outgoing:
        DEAD_LETTERS.labels(self.stage).inc()
        dl = dead_letter(
            self.stage, exc, r.value or b"", topic=r.topic, partition=r.partition, offset=r.offset
        )
        log.warning(
            "dead-lettered",
            extra={"error_type": dl.error_type, "offset": r.offset, "partition": r.partition},
        )
        return Outgoing(self._topics.dlq, r.key, dl.model_dump_json().encode())
