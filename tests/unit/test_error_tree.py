"""httpx-style: every adapter raises only our error types (core/errors.py),
never a library's, and every exception class of ours is in the one tree."""

from __future__ import annotations

import ast
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core import errors
from core.errors import (
    ConfigError,
    ModelError,
    SourceError,
    StoreError,
    TingjianError,
    TransportError,
)

ROOT = Path(__file__).resolve().parents[2]
# Nothing listens on port 1 of the loopback: connections are refused at once.
DEAD_DSN = "postgresql://x:y@127.0.0.1:1/none"


def test_every_exception_class_is_in_the_tree() -> None:
    roots = {"TingjianError"}
    outside = []
    for package in ("core", "config", "ingest", "triage", "sinks", "tingjian"):
        for f in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    bases = {ast.unparse(b) for b in node.bases}
                    builtin = {"Exception", "BaseException", "ValueError", "RuntimeError"}
                    if bases & builtin and node.name not in roots:
                        outside.append(f"{f.relative_to(ROOT)}: {node.name}")
    assert not outside, outside


def test_the_tree_has_one_root() -> None:
    for name in ("ConfigError", "ContractError", "TransportError", "StoreError", "SourceError"):
        assert issubclass(getattr(errors, name), TingjianError)
    from ingest.bulk.files import FileError
    from ingest.bulk.rows import RowError
    from ingest.email.imap_source import MailError
    from ingest.social.adapters import Malformed, Throttled, TokenExpired, Transient

    for cls in (FileError, MailError, Malformed, Throttled, TokenExpired, Transient):
        assert issubclass(cls, SourceError)
    assert issubclass(RowError, errors.ContractError)


def test_kafka_adapter_maps_kafka_errors_to_transport_error() -> None:
    """The mapping at the boundary; the real broker's refusals are exercised by
    the integration and e2e tests (a dead bootstrap takes kafka-python 30 s)."""
    from kafka.errors import KafkaTimeoutError

    from core.kafka import Outgoing, broker_answers, send_all

    class Future:
        def get(self, timeout: float) -> None:
            raise KafkaTimeoutError("no ack")

    class Producer:
        def send(self, topic: str, key: bytes | None, value: bytes) -> Future:
            return Future()

    with pytest.raises(TransportError):
        send_all(Producer(), [Outgoing("t", None, b"x")], 1.0)
    assert broker_answers("127.0.0.1:1", timeout_s=0.5) is False


def test_postgres_adapters_raise_store_error() -> None:
    from zoneinfo import ZoneInfo

    from core.pg import PgConnection, ping
    from core.store.numbering import NumberAllocator
    from core.store.schema import migrate, require_schema
    from ingest.checkpoints import CheckpointStore
    from sinks.crm.store import CrmStore
    from triage.dedup_store import PostgresDedupStore

    tz = ZoneInfo("Asia/Shanghai")
    now = datetime.now(UTC)
    calls = [
        lambda: PgConnection(DEAD_DSN).get(),
        lambda: migrate(DEAD_DSN),
        lambda: require_schema(DEAD_DSN, "test"),
        lambda: CheckpointStore(DEAD_DSN, "c").get("k"),
        lambda: CheckpointStore(DEAD_DSN, "c").seen(["k"]),
        lambda: CheckpointStore(DEAD_DSN, "c").commit("k", {}, ["k"]),
        lambda: PostgresDedupStore(DEAD_DSN).load(["c"], ["s"], now),
        lambda: CrmStore(DEAD_DSN, "CRM{date:%Y%m%d}{seq:04d}", tz).recent_tickets(1),
        lambda: NumberAllocator(DEAD_DSN, "CRM{date:%Y%m%d}{seq:04d}", tz).allocate(now, "k"),
    ]
    for call in calls:
        with pytest.raises(StoreError):
            call()
    assert ping(DEAD_DSN) is False


def test_sources_raise_source_error(tmp_path: Path) -> None:
    from config import load_settings
    from ingest.bulk.files import read_rows
    from ingest.checkpoints import CheckpointStore
    from ingest.email.imap_source import ImapSource
    from ingest.social.adapters import Request
    from ingest.social.poller import http_fetch
    from models import Topics

    settings = load_settings({"email": {"port": 1}})
    src = ImapSource(
        settings.email,
        CheckpointStore(DEAD_DSN, "c"),
        lambda outs: None,
        topics=Topics(),
        hash_key="k" * 16,
        stop=threading.Event(),
    )
    with pytest.raises(SourceError):
        src._connect()
    with pytest.raises(SourceError):
        http_fetch(Request("GET", "http://127.0.0.1:1/x"), 2.0)
    bad = tmp_path / "x.xlsx"
    bad.write_bytes(b"not a workbook")
    with pytest.raises(SourceError):
        list(read_rows(bad))
    with pytest.raises(SourceError):
        list(read_rows(tmp_path / "x.pdf"))


def test_model_and_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from config import load_settings
    from triage.bundle import load_bundle
    from triage.heads import load_heads

    junk = tmp_path / "m.bundle"
    junk.write_bytes(b"junk")
    with pytest.raises(ModelError):
        load_bundle(junk)
    monkeypatch.setenv("TINGJIAN_KAFKA__PARTITIONS", "0")
    with pytest.raises(ConfigError):
        load_settings()
    with pytest.raises(ConfigError):
        load_heads(["type", "priority"])
    with pytest.raises(ConfigError):
        load_heads(["type", "priority", "sentiment", "no_such_head"])
