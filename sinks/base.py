"""The small base every sink follows: parse a batch, write it in one
transaction together with the offsets it consumed, and only then let the
consumer move on. Unparseable records go to the dead-letter topic first."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from pydantic import BaseModel, ValidationError

from core.dead_letter import dead_letter
from core.kafka import Outgoing, send_all
from core.metrics import DEAD_LETTERS, ERRORS

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class BatchSink(ABC, Generic[M]):
    stage = "sink"
    contract: type[M]

    def __init__(self, producer: KafkaProducer, dlq_topic: str, group_id: str) -> None:
        self._producer = producer
        self._dlq_topic = dlq_topic
        self.group_id = group_id

    def handle(self, records: Sequence[ConsumerRecord]) -> None:
        good: list[tuple[ConsumerRecord, M]] = []
        bad: list[tuple[ConsumerRecord, Exception]] = []
        for r in records:
            try:
                good.append((r, self.contract.model_validate_json(r.value)))
            except (ValidationError, ValueError, TypeError) as exc:
                ERRORS.labels(self.stage, "ContractError").inc()
                bad.append((r, exc))
        # Dead letters are acknowledged before the offsets that skip them are
        # committed: a crash in between repeats a dead letter, never loses one.
        self.dead_letter(bad)
        offsets: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            offsets[tp] = max(offsets.get(tp, -1), r.offset + 1)
        self.write(good, offsets)

    def dead_letter(self, failed: Sequence[tuple[ConsumerRecord, Exception]]) -> None:
        """Send records with their reasons to the DLQ and wait for the ack."""
        if not failed:
            return
        out = []
        for r, exc in failed:
            DEAD_LETTERS.labels(self.stage).inc()
            dl = dead_letter(
                self.stage,
                exc,
                r.value or b"",
                topic=r.topic,
                partition=r.partition,
                offset=r.offset,
            )
            out.append(Outgoing(self._dlq_topic, r.key, dl.model_dump_json().encode()))
        send_all(self._producer, out, 30.0)

    @abstractmethod
    def write(
        self, batch: Sequence[tuple[ConsumerRecord, M]], offsets: dict[TopicPartition, int]
    ) -> None:
        """Write the batch and the offsets in one transaction, or raise StoreError."""

    @abstractmethod
    def stored_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        """Offsets to resume from, as stored by ``write``."""

    def on_assigned(self, consumer: KafkaConsumer, partitions: Sequence[TopicPartition]) -> None:
        for tp, off in self.stored_offsets(partitions).items():
            consumer.seek(tp, off)
            log.info("resuming from stored offset", extra={"partition": str(tp), "offset": off})
