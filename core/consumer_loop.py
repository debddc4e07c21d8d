"""The poll -> process -> durable write -> commit loop every consuming stage runs.

The offset moves only after the handler returned, i.e. after the downstream
write is durable (Kafka acknowledged it, or PostgreSQL committed it). A failed
batch is rewound and retried with backoff; the process never dies of it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from core.errors import StoreError, TransportError
from core.metrics import BATCH_SECONDS, CONSUMER_LAG, ERRORS, MESSAGES_IN

log = logging.getLogger(__name__)


class BatchHandler(Protocol):
    stage: str

    def handle(self, records: Sequence[ConsumerRecord]) -> None:
        """Process a batch and make its results durable, or raise."""

    def on_assigned(self, consumer: KafkaConsumer, partitions: Sequence[TopicPartition]) -> None:
        """Called on (re)assignment, before the first fetch: a place to seek."""


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: KafkaConsumer, handler: BatchHandler) -> None:
        self._consumer = consumer
        self._handler = handler

    def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions revoked", extra={"partitions": [str(tp) for tp in revoked]})

    def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions assigned", extra={"partitions": [str(tp) for tp in assigned]})
        self._handler.on_assigned(self._consumer, list(assigned))


class ConsumerLoop:
    def __init__(
        self,
        consumer: KafkaConsumer,
        topics: Sequence[str],
        handler: BatchHandler,
        stop: threading.Event,
        *,
        poll_timeout_ms: int = 500,
        max_backoff_s: float = 10.0,
        lag_interval_s: float = 1.0,
    ) -> None:
        self._consumer = consumer
        self._topics = list(topics)
        self._handler = handler
        self._stop = stop
        self._poll_timeout_ms = poll_timeout_ms
        self._max_backoff_s = max_backoff_s
        self.batches_done = 0
        self.last_error: str | None = None
        self._ends: dict[TopicPartition, int] = {}
        self._ends_at = float("-inf")
        self._lag_interval_s = lag_interval_s

    def run(self) -> None:
        stage = self._handler.stage
        self._consumer.subscribe(self._topics, listener=_Listener(self._consumer, self._handler))
        backoff = 0.5
        try:
            while not self._stop.is_set():
                try:
                    polled = self._consumer.poll(timeout_ms=self._poll_timeout_ms)
                except KafkaError as exc:
                    ERRORS.labels(stage, "TransportError").inc()
                    log.warning("poll failed", extra={"error": str(exc)})
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self._max_backoff_s)
                    continue
                records = [r for batch in polled.values() for r in batch]
                self._update_lag(records)
                if not records:
                    # An idle stage still follows what it watches between
                    # batches (triage: a promoted model), not only when busy.
                    idle = getattr(self._handler, "idle", None)
                    if idle is not None:
                        idle()
                    continue
                started = time.perf_counter()
                MESSAGES_IN.labels(stage).inc(len(records))
                try:
                    self._handler.handle(records)
                    self._commit(records)
                except (TransportError, StoreError) as exc:
                    # Not the message's fault: keep it, rewind, retry after a pause.
                    ERRORS.labels(stage, type(exc).__name__).inc()
                    self.last_error = str(exc)
                    log.warning("batch failed; will retry", extra={"error": str(exc)})
                    self._rewind(records)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self._max_backoff_s)
                    continue
                backoff = 0.5
                self.last_error = None
                self.batches_done += 1
                BATCH_SECONDS.labels(stage).observe(time.perf_counter() - started)
        finally:
            # close() leaves the group at once so partitions move without waiting
            # for the session timeout.
            self._consumer.close(autocommit=False)
            log.info("consumer closed", extra={"stage": stage})

    def _commit(self, records: Sequence[ConsumerRecord]) -> None:
        nxt: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            nxt[tp] = max(nxt.get(tp, -1), r.offset + 1)
        try:
            self._consumer.commit(
                offsets={tp: OffsetAndMetadata(o, "", -1) for tp, o in nxt.items()}
            )
        except KafkaError as exc:
            raise TransportError(f"offset commit failed: {exc}") from exc

    def _rewind(self, records: Sequence[ConsumerRecord]) -> None:
        first: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            first[tp] = min(first.get(tp, r.offset), r.offset)
        assigned = self._consumer.assignment()
        for tp, off in first.items():
            if tp in assigned:
                self._consumer.seek(tp, off)

    def _update_lag(self, pending: Sequence[ConsumerRecord]) -> None:
        """The real backlog: the log's end (asked of the broker, at most once a
        second) minus the next offset not yet processed. Neither the fetch
        highwater (stale while the consumer works through its buffer) nor the
        position (already past the batch in hand) tells it."""
        assigned = set(self._consumer.assignment())
        if not assigned:
            CONSUMER_LAG.labels(self._handler.stage).set(0)
            return
        now = time.monotonic()
        if now - self._ends_at >= self._lag_interval_s or not assigned <= set(self._ends):
            try:
                self._ends = dict(self._consumer.end_offsets(list(assigned)))
                self._ends_at = now
            except KafkaError:
                return  # keep the last figure; the broker will answer again
        first: dict[TopicPartition, int] = {}
        for r in pending:
            tp = TopicPartition(r.topic, r.partition)
            first[tp] = min(first.get(tp, r.offset), r.offset)
        lag = 0
        for tp in assigned:
            end = self._ends.get(tp)
            if end is None:
                continue
            try:
                nxt = first[tp] if tp in first else self._consumer.position(tp, timeout_ms=100)
            except KafkaError:
                continue
            if nxt is not None:
                lag += max(0, end - nxt)
        CONSUMER_LAG.labels(self._handler.stage).set(lag)
