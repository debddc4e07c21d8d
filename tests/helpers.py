"""Helpers for tests that run the real services."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from config.settings import KafkaSettings
from models import Customer, FeedbackReceived, Topics

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A pipeline process (``tingjian ...``) with its log kept for failures."""

    def __init__(self, args: list[str], env: dict[str, str], log_dir: Path, name: str) -> None:
        self.args, self.env, self.name = args, env, name
        self.log_path = log_dir / f"{name}.log"
        self.p: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        log = self.log_path.open("ab")
        self.p = subprocess.Popen(
            [sys.executable, "-m", "tingjian.cli", *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        return self

    def kill(self) -> None:
        assert self.p is not None
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(10)

    def terminate(self, timeout: float = 10) -> int:
        assert self.p is not None
        self.p.send_signal(signal.SIGTERM)
        return self.p.wait(timeout)

    def alive(self) -> bool:
        return self.p is not None and self.p.poll() is None

    def stop_quietly(self) -> None:
        if self.alive():
            assert self.p is not None
            self.p.kill()
            self.p.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def wait_for(cond: Callable[[], bool], timeout: float, what: str, poll: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def kafka_topics(bootstrap: str, prefix: str, partitions: int = 1) -> tuple[KafkaSettings, Topics]:
    """Kafka settings and topics of a test isolated by topic prefix, topics created."""
    from config import load_settings
    from core.kafka import ensure_topics

    cfg = load_settings(
        {
            "kafka": {
                "bootstrap_servers": bootstrap,
                "topic_prefix": prefix,
                "partitions": partitions,
            }
        }
    ).kafka
    topics = Topics(prefix)
    ensure_topics(cfg, topics)
    return cfg, topics


def kafka_for(env: dict[str, str], partitions: int = 3) -> tuple[KafkaSettings, Topics]:
    """The same, for the environment of a test's pipeline processes."""
    return kafka_topics(
        env["TINGJIAN_KAFKA__BOOTSTRAP_SERVERS"], env["TINGJIAN_KAFKA__TOPIC_PREFIX"], partitions
    )


def start_consumers(env: dict[str, str], log_dir: Path) -> list[Proc]:
    """The triage and CRM sink processes, the downstream half of the pipeline."""
    return [
        Proc(["triage", "--metrics-port", "0"], env, log_dir, "triage").start(),
        Proc(["sink", "crm", "--metrics-port", "0"], env, log_dir, "sink").start(),
    ]


def wait_healthy(base_url: str, proc: Proc | None = None, timeout: float = 60) -> None:
    """Wait until a service's /healthz answers 200."""
    import urllib.request

    def ok() -> bool:
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as r:
                return int(r.status) == 200
        except OSError:
            return False

    wait_for(ok, timeout, f"{base_url}/healthz" + (f"\n{proc.log()}" if proc else ""))


def count(dsn: str, sql: str) -> int:
    with psycopg.connect(dsn) as c:
        row = c.execute(sql).fetchone()
        assert row is not None
        return int(row[0])


TEMPLATES = [
    "更新到新版本后APP一打开就闪退，第{n}台测试机也一样",
    "退款申请的步骤太多了，找了很久才找到入口，订单{n}",
    "建议增加批量导出功能，这样每月对账方便很多，编号{n}",
    "请问订单{n}什么时候发货？",
    "客服小王很耐心地帮我处理了问题{n}，谢谢",
    "页面加载太慢，打开商品详情要等好几秒，第{n}次了都这样",
]


def feedback(n: int, *, channel: str = "web_form") -> FeedbackReceived:
    """Distinct customers and texts: none of these is a duplicate of another."""
    return FeedbackReceived(
        channel=channel,  # type: ignore[arg-type]
        source_id=f"src-{n}",
        received_at=datetime.now(UTC),
        text=TEMPLATES[n % len(TEMPLATES)].format(n=n),
        customer=Customer(name=f"客户{n}", phone=f"139{n:08d}"),
    )


def env_with(base: dict[str, str], **kw: str) -> dict[str, str]:
    out = dict(base)
    out.update(kw)
    return out


__all__ = [
    "ROOT",
    "Proc",
    "count",
    "env_with",
    "feedback",
    "free_port",
    "os",
    "wait_for",
    "wait_healthy",
]
