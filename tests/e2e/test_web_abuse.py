"""Web abuse against a real web connector process (issue 13): random bytes,
huge headers, 1 MB bodies, slow and abandoned bodies, odd content types. Never
a 5xx but 503, never a hang, never an ERROR traceback in the log, and the
connector still answers 202 afterwards."""

from __future__ import annotations

import json
import random
import re
import socket
import time
import urllib.request
from pathlib import Path

from tests.helpers import Proc, free_port, wait_healthy

BODY_TIMEOUT_S = 2.0


def _status(reply: bytes) -> int | None:
    m = re.match(rb"HTTP/1\.[01] (\d{3})", reply)
    return int(m.group(1)) if m else None


def exchange(
    port: int, *chunks: bytes, pause_s: float = 0.0, close_early: bool = False
) -> tuple[int | None, float]:
    """Send ``chunks`` (pausing between them), read until the server answers
    or closes: (status or None when closed without an answer, seconds taken).
    A server that neither answers nor closes within 15 s fails the test."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        for i, chunk in enumerate(chunks):
            if i and pause_s:
                time.sleep(pause_s)
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server already answered and closed: read what it said
        if close_early:
            return None, time.monotonic() - started
        reply = b""
        try:
            while b"\r\n\r\n" not in reply:
                data = s.recv(65536)
                if not data:
                    break
                reply += data
        except ConnectionResetError:
            pass
        except TimeoutError as exc:
            raise AssertionError(
                f"no answer and no close within 15 s after {chunks[0][:60]!r}"
            ) from exc
    return _status(reply), time.monotonic() - started


def post_head(port: int, length: int | None, ctype: str = "application/json") -> bytes:
    size = (
        f"Content-Length: {length}\r\n" if length is not None else "Transfer-Encoding: chunked\r\n"
    )
    return (
        f"POST /v1/feedback HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: {ctype}\r\n{size}\r\n"
    ).encode()


def test_web_abuse_never_5xx_never_hangs(service_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    env = {**service_env, "TINGJIAN_WEB__BODY_TIMEOUT_S": str(BODY_TIMEOUT_S)}
    web = Proc(["ingest", "web", "--port", str(port)], env, tmp_path, "web").start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, web)
        rnd = random.Random(13)
        seen: dict[str, int | None] = {}

        # random bytes instead of HTTP
        for i in range(20):
            junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 4000)))
            seen[f"random{i}"], took = exchange(port, junk + b"\r\n\r\n")
            assert took < 10
        # huge headers: one of 100 KB, and 2,000 small ones
        big = post_head(port, 2)[:-2] + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n{}"
        seen["huge_header"], _ = exchange(port, big)
        many = post_head(port, 2)[:-2] + b"".join(b"X-H%d: v\r\n" % i for i in range(2000))
        seen["many_headers"], _ = exchange(port, many + b"\r\n{}")
        # 1 MB bodies, declared and chunked
        mb = json.dumps({"text": "长" * 350_000}).encode()
        seen["1mb_declared"], _ = exchange(port, post_head(port, len(mb)) + mb)
        chunked = (
            b"".join(
                b"%x\r\n" % len(mb[i : i + 65536]) + mb[i : i + 65536] + b"\r\n"
                for i in range(0, len(mb), 65536)
            )
            + b"0\r\n\r\n"
        )
        seen["1mb_chunked"], _ = exchange(port, post_head(port, None) + chunked)
        # a slow body: half of it, then silence
        seen["slow_body"], took = exchange(port, post_head(port, 100) + b'{"text": "', b"")
        assert took < BODY_TIMEOUT_S + 5, took
        # a body trickling in, a byte a second, past the deadline
        body = json.dumps({"text": "慢慢来"}).encode()
        seen["trickle"], took = exchange(
            port, post_head(port, len(body)), *[bytes([b]) for b in body], pause_s=0.3
        )
        # slow headers (slowloris): half a request head, then silence
        head = f"POST /v1/feedback HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
        seen["slow_headers"], took = exchange(port, head)
        assert took < 14, took
        # clients that give up mid-body
        for _ in range(5):
            exchange(port, post_head(port, 1000) + b'{"text": "abc', close_early=True)
        # a content type that is not JSON or a form
        xml = b"<feedback>13812345678</feedback>"
        seen["xml"], _ = exchange(port, post_head(port, len(xml), "text/xml") + xml)

        assert seen["huge_header"] in (400, 431, None), seen
        assert seen["many_headers"] in (400, 431, None), seen
        assert seen["1mb_declared"] == 413 and seen["1mb_chunked"] == 413, seen
        assert seen["slow_body"] == 408 and seen["trickle"] == 408, seen
        assert seen["xml"] == 415, seen
        bad = {k: v for k, v in seen.items() if v is not None and v >= 500 and v != 503}
        assert not bad, bad

        # the connector is alive and well afterwards
        req = urllib.request.Request(
            url + "/v1/feedback",
            data=json.dumps({"text": "被攻击之后还能提交"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 202
        with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
            metrics = r.read().decode()
        for outcome in (
            "produced",
            "rejected_too_large",
            "rejected_timeout",
            "rejected_unsupported_media_type",
        ):
            assert f'tingjian_ingest_items_total{{connector="web",outcome="{outcome}"}}' in metrics
        time.sleep(1)
        log = web.log_path.read_text(errors="replace")
        assert "Traceback" not in log, web.log()
        assert '"level": "ERROR"' not in log and '"levelname": "ERROR"' not in log, web.log()
        assert web.alive(), web.log()
    finally:
        web.stop_quietly()
