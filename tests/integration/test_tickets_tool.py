"""``tingjian tickets`` says how many items were quarantined (never tickets)."""

from __future__ import annotations

from config import load_settings
from core.kafka import Outgoing, make_producer, send_all
from tests.helpers import kafka_topics
from tingjian.tools import quarantine_count


def test_quarantine_count_reads_the_topic(kafka_bootstrap: str, topic_prefix: str) -> None:
    cfg, topics = kafka_topics(kafka_bootstrap, topic_prefix, partitions=2)
    settings = load_settings(
        {"kafka": {"bootstrap_servers": kafka_bootstrap, "topic_prefix": topic_prefix}}
    )
    assert quarantine_count(settings) == 0
    producer = make_producer(cfg)
    try:
        send_all(
            producer, [Outgoing(topics.quarantine, str(i).encode(), b"{}") for i in range(3)], 30
        )
    finally:
        producer.close()
    assert quarantine_count(settings) == 3
