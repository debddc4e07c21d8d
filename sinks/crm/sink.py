"""``tingjian sink crm``: feedback.triaged -> PostgreSQL tickets, exactly once."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from kafka import KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from core.metrics import TICKETS
from models import FeedbackTriaged
from sinks.base import BatchSink
from sinks.crm.store import CrmStore

log = logging.getLogger(__name__)


class CrmSink(BatchSink[FeedbackTriaged]):
    stage = "sink_crm"
    contract = FeedbackTriaged

    def __init__(
        self, store: CrmStore, producer: KafkaProducer, dlq_topic: str, group_id: str
    ) -> None:
        super().__init__(producer, dlq_topic, group_id)
        self._store = store

    def write(
        self,
        batch: Sequence[tuple[ConsumerRecord, FeedbackTriaged]],
        offsets: dict[TopicPartition, int],
    ) -> None:
        records = {m.feedback.source_key: r for r, m in batch}

        def dead_letter_rejected(rejected: list[tuple[FeedbackTriaged, Exception]]) -> None:
            self.dead_letter([(records[m.feedback.source_key], exc) for m, exc in rejected])

        created, merged, skipped = self._store.write_batch(
            [m for _, m in batch],
            self.group_id,
            {(tp.topic, tp.partition): o for tp, o in offsets.items()},
            on_rejected=dead_letter_rejected,
        )
        TICKETS.labels("created").inc(created)
        TICKETS.labels("merged").inc(merged)
        TICKETS.labels("already_stored").inc(skipped)

    def stored_offsets(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartition, int]:
        got = self._store.stored_offsets(
            self.group_id, [(tp.topic, tp.partition) for tp in partitions]
        )
        return {TopicPartition(t, p): o for (t, p), o in got.items()}
