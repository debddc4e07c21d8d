"""Bad messages on a real broker: dead-lettered with stage, error and payload."""

import base64
import json
import threading
import time
from zoneinfo import ZoneInfo

from kafka import KafkaConsumer

from core.consumer_loop import ConsumerLoop
from core.kafka import (
    Outgoing,
    make_consumer,
    make_producer,
    send_all,
)
from models import DeadLetter
from sinks.crm.sink import CrmSink
from sinks.crm.store import CrmStore
from tests.helpers import count, kafka_topics


def test_malformed_triaged_message_goes_to_dlq_masked(
    kafka_bootstrap: str, fresh_db: str, topic_prefix: str
) -> None:
    cfg, topics = kafka_topics(kafka_bootstrap, topic_prefix)
    producer = make_producer(cfg)
    bad = json.dumps({"schema_version": 1, "feedback": {"text": "客户电话13812345678"}}).encode()
    send_all(
        producer,
        [Outgoing(topics.triaged, b"k", bad), Outgoing(topics.triaged, b"k", b"\xff not json")],
        10,
    )

    store = CrmStore(fresh_db, "CRM{date:%Y%m%d}{seq:04d}", ZoneInfo("Asia/Shanghai"))
    sink = CrmSink(store, producer, topics.dlq, f"{topic_prefix}sink")
    stop = threading.Event()
    consumer = make_consumer(cfg, group_id=f"{topic_prefix}sink", max_poll_records=100)
    loop = ConsumerLoop(consumer, [topics.triaged], sink, stop, poll_timeout_ms=200)
    th = threading.Thread(target=loop.run)
    th.start()

    reader = KafkaConsumer(
        topics.dlq,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=20000,
    )
    got = []
    deadline = time.monotonic() + 30
    for msg in reader:
        got.append(DeadLetter.model_validate_json(msg.value))
        if len(got) == 2 or time.monotonic() > deadline:
            break
    stop.set()
    th.join(15)
    reader.close()
    assert not th.is_alive()
    assert len(got) == 2
    assert {d.stage for d in got} == {"sink_crm"}
    assert base64.b64decode(got[0].payload_b64) == bad  # the original bytes, for replay
    assert all("13812345678" not in d.error for d in got)  # the reason is masked
    assert count(fresh_db, "SELECT count(*) FROM tickets") == 0
    # the offsets moved past the bad records, in PostgreSQL with the (empty) write
    assert store.stored_offsets(f"{topic_prefix}sink", [(topics.triaged, 0)]) == {
        (topics.triaged, 0): 2
    }
