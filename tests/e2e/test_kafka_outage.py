"""The web connector with Kafka down or paused, on the real broker: it starts
anyway, answers 503 (never hangs), /healthz tells the truth, and it takes
posts again within seconds of the broker coming back."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT, Proc, env_with, free_port, wait_for, wait_healthy


def _post(url: str, text: str, timeout: float = 15) -> int:
    req = urllib.request.Request(
        url + "/v1/feedback",
        data=json.dumps({"text": text}).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _health(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=5) as r:
            return int(r.status), json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read())


class Forwarder:
    """A TCP relay to the broker, started when a test says Kafka is "back"."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port, self.target = port, target
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            a.close()
            b.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def broker_pid(kafka_bootstrap: str) -> Iterator[int]:
    pid = int((ROOT / ".run" / "kafka" / "pid").read_text().split()[0])
    os.kill(pid, 0)
    yield pid
    os.kill(pid, signal.SIGCONT)  # never leave the shared broker paused


def test_web_starts_without_kafka_answers_503_and_recovers(
    service_env: dict[str, str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    relay_port, port = free_port(), free_port()
    env = env_with(service_env, TINGJIAN_KAFKA__BOOTSTRAP_SERVERS=f"127.0.0.1:{relay_port}")
    started = time.monotonic()
    web = Proc(["ingest", "web", "--port", str(port)], env, tmp_path, "web").start()
    url = f"http://127.0.0.1:{port}"
    relay = None
    try:
        wait_for(lambda: _up(url), 20, "the web connector to listen\n" + web.log())
        assert time.monotonic() - started < 15, "start-up waited for Kafka"
        code, doc = _health(url)
        assert code == 503 and doc["kafka"] is False
        t = time.monotonic()
        assert _post(url, "支付页面打不开") == 503
        assert time.monotonic() - t < 10, "a post hung on the dead broker"
        host, _, bport = kafka_bootstrap.rpartition(":")
        relay = Forwarder(relay_port, (host, int(bport)))
        back = time.monotonic()
        wait_for(lambda: _post(url, "支付页面打不开", 5) == 202, 20, "a 202 after Kafka is back")
        assert time.monotonic() - back < 10
        wait_healthy(url, web, timeout=10)
        assert web.alive()
    finally:
        web.stop_quietly()
        if relay:
            relay.close()


def _up(url: str) -> bool:
    try:
        _health(url)
        return True
    except OSError:
        return False


def test_health_tells_the_truth_while_the_broker_is_paused(
    service_env: dict[str, str], tmp_path: Path, broker_pid: int
) -> None:
    port = free_port()
    web = Proc(["ingest", "web", "--port", str(port)], service_env, tmp_path, "web").start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, web)
        assert _post(url, "登录一直转圈") == 202
        os.kill(broker_pid, signal.SIGSTOP)
        try:
            wait_for(lambda: _health(url)[0] == 503, 8, "/healthz to notice the paused broker")
            assert _health(url)[1]["kafka"] is False
        finally:
            os.kill(broker_pid, signal.SIGCONT)
        resumed = time.monotonic()
        wait_healthy(url, web, timeout=10)
        wait_for(lambda: _post(url, "登录一直转圈", 5) == 202, 10, "a 202 after the pause")
        assert time.monotonic() - resumed < 5 + 2  # the target, plus the probe's own timeout
    finally:
        web.stop_quietly()
