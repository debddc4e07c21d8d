"""The web connector's HTTP contract, with the Kafka write replaced by a
recorder (the real Kafka path is covered by the e2e tests)."""

import json
import random

import pytest
from starlette.testclient import TestClient

from core.errors import TransportError
from ingest.web.app import WebOptions, create_app
from models import FeedbackReceived


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.fail = False

    def __call__(self, topic: str, key: bytes, value: bytes) -> None:
        if self.fail:
            raise TransportError("broker down")
        self.sent.append((topic, key, value))


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def client(rec: Recorder) -> TestClient:
    opts = WebOptions(
        topic="feedback.received",
        hash_key="k" * 16,
        max_body_bytes=2048,
        allowed_origins=("https://shop.example.com",),
        rate_limit_per_minute=10_000,
    )
    app = create_app(rec, opts, health=lambda: {"ok": True})
    return TestClient(app, raise_server_exceptions=False)


def test_json_post_is_accepted_after_the_write(client: TestClient, rec: Recorder) -> None:
    r = client.post(
        "/v1/feedback", json={"text": "APP闪退", "name": "王先生", "contact": "13812345678"}
    )
    assert r.status_code == 202
    assert len(rec.sent) == 1
    item = FeedbackReceived.model_validate_json(rec.sent[0][2])
    assert item.channel == "web_form" and item.customer.phone == "13812345678"
    assert item.source_id == r.json()["receipt_id"]
    assert b"13812345678" not in rec.sent[0][1]  # partition key is a hash


def test_form_encoded_post(client: TestClient, rec: Recorder) -> None:
    r = client.post("/v1/feedback", data={"text": "希望增加夜间模式", "nps": "9"})
    assert r.status_code == 202
    assert FeedbackReceived.model_validate_json(rec.sent[0][2]).metadata["nps"] == "9"


def test_per_field_errors(client: TestClient, rec: Recorder) -> None:
    r = client.post(
        "/v1/feedback", json={"text": "", "nps": 11, "contact": "not-a-contact", "x": 1}
    )
    assert r.status_code == 400
    fields = {e["field"] for e in r.json()["fields"]}
    assert {"text", "nps", "contact", "x"} <= fields
    assert rec.sent == []


def test_too_large_is_413(client: TestClient) -> None:
    r = client.post("/v1/feedback", json={"text": "长" * 3000})
    assert r.status_code == 413


def test_kafka_down_is_503_never_2xx(client: TestClient, rec: Recorder) -> None:
    rec.fail = True
    r = client.post("/v1/feedback", json={"text": "闪退"})
    assert r.status_code == 503 and r.headers["retry-after"]


def test_idempotency_key_makes_retries_safe(client: TestClient, rec: Recorder) -> None:
    h = {"Idempotency-Key": "abc-1"}
    a = client.post("/v1/feedback", json={"text": "闪退"}, headers=h)
    b = client.post("/v1/feedback", json={"text": "闪退"}, headers=h)
    assert a.status_code == b.status_code == 202
    assert a.json() == b.json()
    assert len(rec.sent) == 1
    c = client.post("/v1/feedback", json={"text": "另一个问题"}, headers=h)
    assert c.status_code == 422 and "Idempotency-Key" in c.json()["error"]
    assert len(rec.sent) == 1


def test_honeypot_is_not_forwarded(client: TestClient, rec: Recorder) -> None:
    r = client.post("/v1/feedback", json={"text": "hello", "website": "http://bot"})
    assert r.status_code == 202 and rec.sent == []


def test_no_input_makes_a_500(client: TestClient) -> None:
    rnd = random.Random(7)
    bodies = [
        b"",
        b"null",
        b"[]",
        b"{",
        b"\xff\xfe",
        json.dumps({"text": None}).encode(),
        json.dumps({"text": {"a": 1}}).encode(),
        json.dumps({"text": "x" * 10, "nps": "abc"}).encode(),
    ]
    bodies += [bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300))) for _ in range(200)]
    for body in bodies:
        for ctype in ("application/json", "application/x-www-form-urlencoded", "text/plain"):
            r = client.post("/v1/feedback", content=body, headers={"Content-Type": ctype})
            assert r.status_code < 500, (body, ctype, r.status_code)


def test_rate_limit_is_per_client_with_retry_after(rec: Recorder) -> None:
    opts = WebOptions(topic="t", hash_key="k" * 16, max_body_bytes=2048, rate_limit_per_minute=3)
    c = TestClient(
        create_app(rec, opts, health=lambda: {"ok": True}), raise_server_exceptions=False
    )
    codes = [c.post("/v1/feedback", json={"text": f"第{i}条"}).status_code for i in range(5)]
    assert codes == [202, 202, 202, 429, 429]
    r = c.post("/v1/feedback", json={"text": "x"})
    assert int(r.headers["retry-after"]) >= 1


def test_rate_limit_keys_on_the_trusted_proxy_header(rec: Recorder) -> None:
    opts = WebOptions(
        topic="t",
        hash_key="k" * 16,
        max_body_bytes=2048,
        rate_limit_per_minute=2,
        trusted_proxy_header="X-Forwarded-For",
    )
    c = TestClient(create_app(rec, opts, health=lambda: {"ok": True}))

    def post(client_ip: str) -> int:
        h = {"X-Forwarded-For": f"{client_ip}, 10.0.0.1"}
        return c.post("/v1/feedback", json={"text": "闪退"}, headers=h).status_code

    assert [post("203.0.113.7") for _ in range(3)] == [202, 202, 429]
    assert post("203.0.113.8") == 202  # another client behind the same proxy


def test_origin_allowlist(client: TestClient, rec: Recorder) -> None:
    bad = client.post(
        "/v1/feedback", json={"text": "x"}, headers={"Origin": "https://evil.example"}
    )
    assert bad.status_code == 403 and rec.sent == []
    good = client.post(
        "/v1/feedback", json={"text": "x"}, headers={"Origin": "https://shop.example.com"}
    )
    assert good.status_code == 202
    assert good.headers["access-control-allow-origin"] == "https://shop.example.com"
    pre = client.options(
        "/v1/feedback",
        headers={"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code == 204


def test_feedback_number_is_returned_and_carried(rec: Recorder) -> None:
    opts = WebOptions(
        topic="t",
        hash_key="k" * 16,
        max_body_bytes=2048,
        allocate_number=lambda at, key, body: "CRM202611220042",
    )
    c = TestClient(
        create_app(rec, opts, health=lambda: {"ok": True}), raise_server_exceptions=False
    )
    r = c.post("/v1/feedback", json={"text": "闪退"})
    assert r.json()["feedback_no"] == "CRM202611220042"
    assert FeedbackReceived.model_validate_json(rec.sent[0][2]).feedback_no == "CRM202611220042"


def test_store_down_for_numbers_is_503(rec: Recorder) -> None:
    from core.errors import StoreError

    def broken(at: object, key: str, body: str | None) -> str:
        raise StoreError("db down")

    opts = WebOptions(topic="t", hash_key="k" * 16, max_body_bytes=2048, allocate_number=broken)
    c = TestClient(
        create_app(rec, opts, health=lambda: {"ok": True}), raise_server_exceptions=False
    )
    assert c.post("/v1/feedback", json={"text": "闪退"}).status_code == 503
    assert rec.sent == []


def test_form_page_is_served_in_chinese(client: TestClient) -> None:
    r = client.get("/form")
    assert r.status_code == 200 and "意见反馈" in r.text and 'name="website"' in r.text


def test_metrics_count_requests_by_route_and_status_and_hide_created_series(
    client: TestClient,
) -> None:
    from prometheus_client import REGISTRY

    def seen(route: str, status: str) -> float:
        v = REGISTRY.get_sample_value(
            "tingjian_http_requests_total",
            {"stage": "ingest_web", "route": route, "status": status},
        )
        return v or 0.0

    before_ok, before_bad = seen("/v1/feedback", "202"), seen("/v1/feedback", "400")
    before_other = seen("other", "404")
    assert client.post("/v1/feedback", json={"text": "页面打不开"}).status_code == 202
    assert client.post("/v1/feedback", json={"text": ""}).status_code == 400
    assert client.get("/no/such/page").status_code == 404
    assert seen("/v1/feedback", "202") == before_ok + 1
    assert seen("/v1/feedback", "400") == before_bad + 1
    assert seen("other", "404") == before_other + 1
    exposed = client.get("/metrics").text
    assert "tingjian_http_request_seconds_bucket" in exposed
    assert "_created" not in exposed


def test_deeply_nested_json_is_a_400_not_an_outage(client: TestClient, rec: Recorder) -> None:
    body = '{"text": ' + "[" * 1_010 + "]" * 1_010 + "}"
    r = client.post("/v1/feedback", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert "nested" in r.text
    assert rec.sent == []


# --- issue 13: hostile clients ------------------------------------------------------------


def _web_count(outcome: str) -> float:
    from prometheus_client import REGISTRY

    v = REGISTRY.get_sample_value(
        "tingjian_ingest_items_total", {"connector": "web", "outcome": outcome}
    )
    return v or 0.0


def test_other_content_types_are_415_not_parsed_as_json(client: TestClient, rec: Recorder) -> None:
    body = json.dumps({"text": "闪退"}).encode()
    for ctype in ("text/plain", "text/xml", "multipart/form-data; boundary=x", "image/png"):
        r = client.post("/v1/feedback", content=body, headers={"Content-Type": ctype})
        assert r.status_code == 415, (ctype, r.status_code)
        assert "application/json" in r.json()["error"]
    r = client.post("/v1/feedback", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 202 and len(rec.sent) == 1


def test_a_400_never_echoes_a_contact_or_an_account(client: TestClient) -> None:
    secrets = ("13812345678", "zhang.san@example.com", "acct98765432")
    for s in secrets:
        r = client.post("/v1/feedback", json={"text": "x", s: 1})
        assert r.status_code == 400
        assert s not in r.text, r.text
    r = client.post(
        "/v1/feedback",
        content=b"text=%E4%BD&phone=13812345678",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400 and "13812345678" not in r.text


def test_web_counts_ingest_items_like_the_other_connectors(
    client: TestClient, rec: Recorder
) -> None:
    before = {k: _web_count(k) for k in ("received", "produced", "duplicate", "rejected_invalid")}
    headers = {"Idempotency-Key": "count-1"}
    assert client.post("/v1/feedback", json={"text": "一"}, headers=headers).status_code == 202
    assert client.post("/v1/feedback", json={"text": "一"}, headers=headers).status_code == 202
    assert client.post("/v1/feedback", json={"text": ""}).status_code == 400
    assert _web_count("received") - before["received"] == 3
    assert _web_count("produced") - before["produced"] == 1
    assert _web_count("duplicate") - before["duplicate"] == 1
    assert _web_count("rejected_invalid") - before["rejected_invalid"] == 1


def _call(app: object, messages: list[dict[str, object]], stall: bool) -> list[dict[str, object]]:
    """Drive the ASGI app directly: ``messages`` are what the client sends,
    then it stalls (never sends more) or disconnects."""
    import asyncio

    sent: list[dict[str, object]] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/feedback",
        "raw_path": b"/v1/feedback",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }
    queue = list(messages)

    async def receive() -> dict[str, object]:
        if queue:
            return queue.pop(0)
        if stall:
            await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def main() -> None:
        await asyncio.wait_for(app(scope, receive, send), 10)  # type: ignore[operator]

    asyncio.run(main())
    return sent


def _app(rec: Recorder, timeout_s: float = 0.5) -> object:
    opts = WebOptions(topic="t", hash_key="k" * 16, max_body_bytes=2048, body_timeout_s=timeout_s)
    return create_app(rec, opts, health=lambda: {"ok": True})


def test_a_partial_body_is_answered_408_not_held_for_ever(rec: Recorder) -> None:
    part = {"type": "http.request", "body": b'{"text": "', "more_body": True}
    sent = _call(_app(rec), [part], stall=True)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 408
    assert rec.sent == []


def test_a_client_disconnect_logs_one_line_not_an_error(
    rec: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    part = {"type": "http.request", "body": b'{"text": "', "more_body": True}
    _call(_app(rec), [part], stall=False)
    assert rec.sent == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert [r for r in caplog.records if "disconnected" in r.getMessage()]
