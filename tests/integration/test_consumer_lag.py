"""``tingjian_consumer_lag`` counts the real backlog on a real broker: every
message not yet processed, including the batch in hand and what the consumer
has not fetched yet."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from prometheus_client import REGISTRY

from core.consumer_loop import ConsumerLoop
from core.kafka import Outgoing, make_consumer, make_producer, send_all
from tests.helpers import kafka_topics, wait_for

N = 1500


class SlowCounter:
    stage = "lag_test"

    def __init__(self) -> None:
        self.processed = 0
        self.seen: list[tuple[int, float]] = []  # (processed before, lag shown)

    def handle(self, records: Sequence[ConsumerRecord]) -> None:
        lag = REGISTRY.get_sample_value("tingjian_consumer_lag", {"stage": self.stage})
        self.seen.append((self.processed, lag if lag is not None else -1.0))
        threading.Event().wait(0.02)
        self.processed += len(records)

    def on_assigned(self, consumer: KafkaConsumer, partitions: Sequence[TopicPartition]) -> None:
        pass


def test_lag_counts_every_unprocessed_message(kafka_bootstrap: str) -> None:
    cfg, topics = kafka_topics(kafka_bootstrap, f"t{uuid.uuid4().hex[:8]}.", partitions=3)
    producer = make_producer(cfg)
    send_all(
        producer,
        [Outgoing(topics.received, str(i % 7).encode(), b"x" * 50) for i in range(N)],
        30,
    )
    producer.close()

    handler = SlowCounter()
    stop = threading.Event()
    consumer = make_consumer(cfg, group_id=f"lag-{uuid.uuid4().hex[:6]}", max_poll_records=100)
    loop = ConsumerLoop(consumer, [topics.received], handler, stop, poll_timeout_ms=200)
    t = threading.Thread(target=loop.run, daemon=True)
    t.start()
    try:
        wait_for(lambda: handler.processed >= N, 60, f"{N} messages processed")
        # Everything was produced before the loop started: before each batch
        # the gauge must show exactly what was still to do, the batch included.
        assert len(handler.seen) >= N // 100
        wrong = [(done, lag) for done, lag in handler.seen if lag != N - done]
        assert not wrong, wrong[:5]
        wait_for(
            lambda: REGISTRY.get_sample_value("tingjian_consumer_lag", {"stage": "lag_test"}) == 0,
            10,
            "the lag back to 0",
        )
    finally:
        stop.set()
        t.join(timeout=15)
