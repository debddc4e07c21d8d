"""The webhook sink against a local receiver that fails, times out and
refuses, with dead letters on the real broker; and `tingjian sink webhook`
delivering from the notifications topic."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.errors import TransportError
from core.kafka import Outgoing, make_consumer, make_producer, send_all
from sinks.webhook.sink import Policy, Target, WebhookSink
from tests.helpers import Proc, env_with, kafka_topics, wait_for

SECRET = "s3cret-key-for-tests"


class Receiver:
    """/flaky: 500, 500, a response slower than the timeout, then 200.
    /refuse: 400. /down: 503. Every request is kept."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.flaky_calls = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.requests.append((self.path, dict(self.headers), body))
                code = 200
                if self.path == "/flaky":
                    outer.flaky_calls += 1
                    if outer.flaky_calls <= 2:
                        code = 500
                    elif outer.flaky_calls == 3:
                        time.sleep(1.5)
                elif self.path == "/refuse":
                    code = 400
                elif self.path == "/down":
                    code = 503
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ok(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for p, h, b in self.requests if p == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _record(doc: dict[str, object], offset: int) -> SimpleNamespace:
    return SimpleNamespace(
        topic="n", partition=0, offset=offset, key=b"k", value=json.dumps(doc).encode()
    )


def test_retries_sign_and_dead_letter(
    receiver: Receiver, kafka_bootstrap: str, topic_prefix: str
) -> None:
    cfg, topics = kafka_topics(kafka_bootstrap, topic_prefix)
    producer = make_producer(cfg)
    targets = [
        Target("crm", receiver.url + "/flaky", SECRET, kinds=("sla.breach",)),
        Target("bot", receiver.url + "/refuse", SECRET, departments=("技术部",)),
    ]
    sink = WebhookSink(
        targets, producer, topics.dlq, Policy(timeout_s=1.0, max_attempts=5, backoff_base_s=0.01)
    )
    breach = {
        "kind": "sla.breach",
        "idempotency_key": "sla:CRM1:resolve:breach:0",
        "department": "客服部",
    }
    note = {"kind": "ticket.note", "idempotency_key": "event:9", "department": "技术部"}
    other = {"kind": "ticket.note", "idempotency_key": "event:10", "department": "产品部"}
    sink.handle(
        [
            _record(breach, 1),
            _record(note, 2),
            _record(other, 3),
            SimpleNamespace(topic="n", partition=0, offset=4, key=None, value=b"not json"),
        ]
    )
    producer.close()
    flaky = receiver.ok("/flaky")
    assert len(flaky) == 4  # 500, 500, timeout, 200
    headers, body = flaky[-1]
    assert headers["Idempotency-Key"] == "sla:CRM1:resolve:breach:0"
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Tingjian-Signature"] == expected
    assert len(receiver.ok("/refuse")) == 1  # a 400 is not retried
    # the refused note and the broken record are dead letters; the 产品部 note went nowhere
    consumer = make_consumer(cfg, group_id=f"{topic_prefix}dlq", max_poll_records=50)
    consumer.subscribe([topics.dlq])
    got: list[dict[str, object]] = []
    deadline = time.monotonic() + 30
    while len(got) < 2 and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=1000).values():
            got += [json.loads(r.value) for r in batch]
    consumer.close()
    assert sorted(str(g["error_type"]) for g in got) == ["JSONDecodeError", "Permanent"]


def test_an_open_circuit_keeps_the_batch(
    receiver: Receiver, kafka_bootstrap: str, topic_prefix: str
) -> None:
    cfg, topics = kafka_topics(kafka_bootstrap, topic_prefix)
    producer = make_producer(cfg)
    sink = WebhookSink(
        [Target("down", receiver.url + "/down", SECRET)],
        producer,
        topics.dlq,
        Policy(
            timeout_s=1.0,
            max_attempts=2,
            backoff_base_s=0.0,
            breaker_failures=1,
            breaker_cooldown_s=60,
        ),
    )
    with pytest.raises(TransportError):
        sink.handle([_record({"kind": "incident", "idempotency_key": "event:1"}, 1)])
    calls = len(receiver.ok("/down"))
    assert calls == 2
    with pytest.raises(TransportError, match="circuit open"):
        sink.handle([_record({"kind": "incident", "idempotency_key": "event:1"}, 1)])
    assert len(receiver.ok("/down")) == calls  # open: the target is left alone
    producer.close()


def test_the_service_delivers_from_the_topic(
    receiver: Receiver, service_env: dict[str, str], tmp_path: Path
) -> None:
    cfg, topics = kafka_topics(
        service_env["TINGJIAN_KAFKA__BOOTSTRAP_SERVERS"],
        service_env["TINGJIAN_KAFKA__TOPIC_PREFIX"],
    )
    env = env_with(
        service_env,
        TINGJIAN_WEBHOOK__GROUP_ID=f"{topics.prefix}hook",
        TINGJIAN_WEBHOOK__METRICS_PORT="0",
        TINGJIAN_WEBHOOK__TARGETS=json.dumps(
            {"crm": {"url": receiver.url + "/ok", "secret": SECRET}}
        ),
    )
    producer = make_producer(cfg)
    send_all(
        producer,
        [
            Outgoing(
                topics.notifications,
                b"CRM1",
                json.dumps({"kind": "ticket.created", "idempotency_key": "event:1"}).encode(),
            )
        ],
        30,
    )
    producer.close()
    proc = Proc(["sink", "webhook"], env, tmp_path, "webhook").start()
    try:
        wait_for(lambda: len(receiver.ok("/ok")) >= 1, 60, "a delivery\n" + proc.log())
        assert json.loads(receiver.ok("/ok")[0][1])["kind"] == "ticket.created"
    finally:
        proc.stop_quietly()
