"""``tingjian dlq replay`` on the real broker and store: dead letters go back
through the normal path, a repeat makes no second ticket, --since and --stage
filter, --dry-run sends nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition

from core.dead_letter import dead_letter
from core.errors import ContractError
from core.kafka import Outgoing, make_producer, send_all
from tests.helpers import Proc, count, feedback, kafka_for, start_consumers, wait_for


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:
        p.stop_quietly()


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tingjian.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _end_offsets(bootstrap: str, topic: str) -> int:
    c = KafkaConsumer(bootstrap_servers=bootstrap.split(","))
    try:
        tps = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic) or ()]
        return sum(c.end_offsets(tps).values())
    finally:
        c.close()


def _mail() -> bytes:
    m = EmailMessage()
    m["From"] = "Zhang San <zhang.replay@example.com>"
    m["To"] = "support@example.com"
    m["Subject"] = "发票开错了"
    m["Message-ID"] = "<replay-1@example.com>"
    m["Date"] = "Tue, 01 Dec 2026 10:00:00 +0800"
    m.set_content("你们上周给我开的发票抬头写错了，麻烦重新开一张，谢谢。")
    return m.as_bytes()


def test_replay_sends_dead_letters_through_the_normal_path_once(
    service_env: dict[str, str], procs: list[Proc], tmp_path: Path
) -> None:
    kcfg, topics = kafka_for(service_env)
    dsn = service_env["TINGJIAN_POSTGRES__DSN"]
    producer = make_producer(kcfg)
    now = datetime.now(UTC)
    cause = ContractError("model bundle missing")

    def letter(stage: str, payload: bytes, **kw: object) -> bytes:
        dl = dead_letter(stage, cause, payload, **kw)  # type: ignore[arg-type]
        return dl.model_dump_json().encode()

    items = [feedback(n) for n in range(4)]
    # The whole record of the fourth lives on the received topic; its dead
    # letter kept only the first bytes (an over-sized record).
    fut = producer.send(topics.received, key=b"k3", value=items[3].model_dump_json().encode())
    meta = fut.get(timeout=30)
    old = dead_letter("triage", cause, items[0].model_dump_json().encode(), topic=topics.received)
    old = old.model_copy(update={"failed_at": now - timedelta(days=3)})
    dlq = [
        *(
            Outgoing(
                topics.dlq,
                f"k{i}".encode(),
                letter("triage", it.model_dump_json().encode(), topic=topics.received),
            )
            for i, it in enumerate(items[:3])
        ),
        Outgoing(
            topics.dlq,
            b"k3",
            letter(
                "triage",
                items[3].model_dump_json().encode(),
                topic=topics.received,
                partition=meta.partition,
                offset=meta.offset,
                max_payload_bytes=16,
            ),
        ),
        Outgoing(topics.dlq, b"m", letter("ingest_email", _mail())),
        Outgoing(topics.dlq, b"old", old.model_dump_json().encode()),
        Outgoing(topics.dlq, b"x", b"not a dead letter"),
    ]
    send_all(producer, dlq, 30)
    producer.close()

    before = _end_offsets(kcfg.bootstrap_servers, topics.received)
    dry = _cli(service_env, "dlq", "replay", "--since", "1d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing sent" in dry.stdout
    assert f"     5  to {topics.received}" in dry.stdout, dry.stdout
    assert "     1  skipped: before --since" in dry.stdout
    assert "     1  skipped: not a dead letter" in dry.stdout
    assert _end_offsets(kcfg.bootstrap_servers, topics.received) == before

    only_email = _cli(service_env, "dlq", "replay", "--stage", "ingest_email", "--dry-run")
    assert f"     1  to {topics.received}" in only_email.stdout, only_email.stdout
    assert "     5  skipped: other stage" in only_email.stdout

    procs += start_consumers(service_env, tmp_path)
    for _ in range(2):  # a second replay must not count anything twice
        done = _cli(service_env, "dlq", "replay", "--since", "1d")
        assert done.returncode == 0, done.stderr
        assert f"     5  to {topics.received}" in done.stdout
        assert '"sent": 5' in done.stderr
    assert _end_offsets(kcfg.bootstrap_servers, topics.received) == before + 10

    ids = "('src-0','src-1','src-2','src-3')"
    wait_for(
        lambda: count(dsn, f"SELECT count(*) FROM tickets WHERE source_id IN {ids}") == 4,
        90,
        "the four replayed web items as tickets",
    )
    wait_for(
        lambda: count(dsn, "SELECT count(*) FROM tickets WHERE channel = 'email'") == 1,
        60,
        "the re-parsed mail as a ticket",
    )

    # Let the second replay drain before counting: the sink's offsets reach
    # the end of the triaged topic.
    def drained() -> bool:
        with psycopg.connect(dsn) as c:
            row = c.execute("SELECT coalesce(sum(next_offset), 0) FROM sink_offsets").fetchone()
        return (
            row is not None
            and int(row[0]) >= _end_offsets(kcfg.bootstrap_servers, topics.triaged) > 0
        )

    wait_for(drained, 60, "the sink to reach the end of the triaged topic")
    assert count(dsn, "SELECT count(*) FROM tickets") == 5
    with psycopg.connect(dsn) as c:
        rows = c.execute("SELECT source_id, summary FROM tickets").fetchall()
    assert len({r[0] for r in rows}) == 5
    assert json.dumps(rows, ensure_ascii=False).count("zhang.replay@example.com") == 0
