"""An incident found by two triage workers (customers split between them by
the topic's keys) with one of them killed and restarted mid-burst (issue 9)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.kafka import Outgoing, make_producer, send_all
from core.privacy import partition_key
from models import Customer, FeedbackReceived
from tests.helpers import Proc, count, env_with, kafka_for, wait_for

TEXT = "APP更新后一打开就闪退，重装也没用，客服电话也打不通"


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:
        p.stop_quietly()


def item(n: int) -> FeedbackReceived:
    return FeedbackReceived(
        channel="web_form",
        source_id=f"burst-{n}",
        received_at=datetime.now(UTC),
        text=TEXT + "！" * (n % 3),
        customer=Customer(phone=f"1390000{n:04d}"),
    )


def test_incident_with_two_workers_and_a_restart(
    service_env: dict[str, str], procs: list[Proc], tmp_path: Path
) -> None:
    env = env_with(service_env, TINGJIAN_TRIAGE__BATCH_SIZE="2")
    kcfg, topics = kafka_for(env, partitions=4)
    producer = make_producer(kcfg)
    key = (
        env.get("TINGJIAN_PRIVACY__HASH_KEY")
        or __import__("config").load_settings().privacy.hash_key
    )

    def publish(lo: int, hi: int) -> None:
        send_all(
            producer,
            [
                Outgoing(
                    topics.received, partition_key(item(n), key), item(n).model_dump_json().encode()
                )
                for n in range(lo, hi)
            ],
            30,
        )

    dsn = env["TINGJIAN_POSTGRES__DSN"]
    t1 = Proc(["triage", "--metrics-port", "0"], env, tmp_path, "triage1").start()
    t2 = Proc(["triage", "--metrics-port", "0"], env, tmp_path, "triage2").start()
    sink = Proc(["sink", "crm", "--metrics-port", "0"], env, tmp_path, "sink").start()
    procs += [t1, t2, sink]
    tickets = lambda: count(dsn, "SELECT count(*) FROM ticket_feedback")  # noqa: E731
    publish(0, 4)
    wait_for(lambda: tickets() >= 4, 120, f"4 tickets\n{t1.log()}\n{t2.log()}\n{sink.log()}")
    t2.kill()  # mid-burst: the burst state must not be lost
    t2 = Proc(["triage", "--metrics-port", "0"], env, tmp_path, "triage2b").start()
    procs.append(t2)
    publish(4, 8)
    wait_for(lambda: tickets() >= 8, 120, f"8 tickets\n{t1.log()}\n{t2.log()}\n{sink.log()}")
    producer.close()
    assert count(dsn, "SELECT count(*) FROM incidents") == 1
    assert count(dsn, "SELECT max(member_count) FROM incidents") >= 5
    assert count(dsn, "SELECT count(*) FROM tickets WHERE incident") >= 4
    assert tickets() == 8  # one ticket per customer: an incident is never a merge
