"""The fault suite: load with a ledger, a fault in the middle, the invariant
proven after (tests/faults/ledger.py). Faults here touch only this test's own
database, topics and processes; the broker and PostgreSQL outages that would
disturb other tests run in tests/e2e/test_kafka_outage.py against the broker's
own process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType

from tests.faults.ledger import Ledger, check, scan_for_canaries
from tests.helpers import Proc, count, free_port, kafka_for, wait_for, wait_healthy


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:
        p.stop_quietly()


class Pipeline:
    """web + N triage + M sink workers of one test, each with a metrics port."""

    def __init__(self, env: dict[str, str], tmp: Path, procs: list[Proc]) -> None:
        self.env, self.tmp, self.procs = env, tmp, procs
        self.metrics: dict[str, str] = {}
        self.web_url = ""

    def start(self, triage: int = 1, sinks: int = 1) -> Pipeline:
        port = free_port()
        web = Proc(["ingest", "web", "--port", str(port)], self.env, self.tmp, "web").start()
        self.procs.append(web)
        self.web_url = f"http://127.0.0.1:{port}"
        for kind, n, args in (("triage", triage, ["triage"]), ("sink", sinks, ["sink", "crm"])):
            for i in range(n):
                mp = free_port()
                name = f"{kind}{i}"
                p = Proc([*args, "--metrics-port", str(mp)], self.env, self.tmp, name).start()
                self.procs.append(p)
                self.metrics[name] = f"http://127.0.0.1:{mp}/metrics"
        wait_healthy(self.web_url, web)
        return self

    def proc(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)

    def dumps(self) -> list[str]:
        out = []
        for which in ("dlq", "quarantine"):
            r = subprocess.run(
                [sys.executable, "-m", "tingjian.cli", "dump", which],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            out.append(r.stdout + r.stderr)
        return out


def _check(pipe: Pipeline, ledger: Ledger, alive: list[str] | None = None) -> dict[str, int]:
    kcfg, topics = kafka_for(pipe.env)
    procs = [p for p in pipe.procs if alive is None or p.name in alive]
    urls = [u for n, u in pipe.metrics.items() if alive is None or n in alive]
    where = check(
        ledger,
        pipe.env["TINGJIAN_POSTGRES__DSN"],
        kcfg.bootstrap_servers,
        topics.quarantine,
        topics.dlq,
        procs,
        urls,
    )
    scan_for_canaries(pipe.dumps())
    return where


def test_terminated_backends_every_2s_lose_nothing(
    service_env: dict[str, str], procs: list[Proc], tmp_path: Path
) -> None:
    pipe = Pipeline(service_env, tmp_path, procs).start()
    dsn = service_env["TINGJIAN_POSTGRES__DSN"]
    db = dsn.rpartition("/")[2]
    stop = threading.Event()
    killed: list[int] = []

    def terminator() -> None:
        with psycopg.connect(dsn, autocommit=True) as c:
            while not stop.wait(2):
                rows = c.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (db,),
                ).fetchall()
                killed.append(len(rows))

    t = threading.Thread(target=terminator, daemon=True)
    t.start()
    ledger = Ledger(pipe.web_url + "/v1/feedback", total=300).start()
    try:
        ledger.join()
        wait_for(lambda: sum(killed) >= 3, 30, "backends terminated")
    finally:
        stop.set()
        t.join(10)
    where = _check(pipe, ledger)
    assert where["stored"] == 300, where


def test_two_workers_per_stage_one_of_each_killed(
    service_env: dict[str, str], procs: list[Proc], tmp_path: Path
) -> None:
    pipe = Pipeline(service_env, tmp_path, procs).start(triage=2, sinks=2)
    dsn = service_env["TINGJIAN_POSTGRES__DSN"]
    ledger = Ledger(pipe.web_url + "/v1/feedback", total=400).start()
    wait_for(lambda: count(dsn, "SELECT count(*) FROM tickets") >= 80, 90, "first tickets")
    pipe.proc("triage1").kill()
    pipe.proc("sink0").kill()
    assert count(dsn, "SELECT count(*) FROM tickets") < 400, "the kill came too late"
    ledger.join()
    where = _check(pipe, ledger, alive=["web", "triage0", "sink1"])
    assert where["stored"] == 400, where


def _allow_big_records(bootstrap: str, topics: list[str], size: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC, t, configs={"max.message.bytes": str(size)}
                )
                for t in topics
            ]
        )
    finally:
        admin.close()


def test_poison_records_on_every_topic_never_stop_a_partition(
    service_env: dict[str, str], procs: list[Proc], tmp_path: Path
) -> None:
    kcfg, topics = kafka_for(service_env)
    big = 5 * 1024 * 1024
    _allow_big_records(kcfg.bootstrap_servers, [topics.received, topics.triaged], big + 65536)
    pipe = Pipeline(service_env, tmp_path, procs).start()
    ledger = Ledger(pipe.web_url + "/v1/feedback", total=300).start()
    dsn = service_env["TINGJIAN_POSTGRES__DSN"]
    wait_for(lambda: count(dsn, "SELECT count(*) FROM tickets") >= 30, 90, "first tickets")
    huge = json.dumps({"schema_version": 1, "text": "卡" * (big // 3)}, ensure_ascii=False).encode()
    poison = [huge, b"\xff\xfe\x00 not utf-8 \xc3\x28", b'{"schema_version": 1, "wrong": true}']
    producer = KafkaProducer(
        bootstrap_servers=kcfg.bootstrap_servers.split(","),
        max_request_size=big + 65536,
        acks="all",
    )
    try:
        # One of each on every partition, between the good ones still coming.
        for topic in (topics.received, topics.triaged):
            for part in range(3):
                for value in poison:
                    producer.send(topic, value=value, partition=part).get(timeout=30)
    finally:
        producer.close()
    ledger.join()
    where = _check(pipe, ledger)
    assert where["stored"] == 300, where

    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=kcfg.bootstrap_servers.split(","))
    try:
        tps = [TopicPartition(topics.dlq, p) for p in c.partitions_for_topic(topics.dlq) or ()]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        letters = []
        deadline = time.monotonic() + 30
        while len(letters) < 18 and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=1000).values():
                letters += [json.loads(r.value) | {"_size": len(r.value)} for r in recs]
    finally:
        c.close()
    by_stage: dict[str, int] = {}
    for d in letters:
        by_stage[d["stage"]] = by_stage.get(d["stage"], 0) + 1
        assert d["_size"] < 1024 * 1024, "a dead letter must fit in a default Kafka message"
    assert by_stage == {"triage": 9, "sink_crm": 9}, by_stage
    assert any(d["truncated"] and d["payload_bytes"] > big // 2 for d in letters)
