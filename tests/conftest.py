"""Shared fixtures. Integration and e2e tests need the real Kafka broker and
PostgreSQL started by ``scripts/services.sh start`` (``make test`` does it). A
missing service FAILS the test: it never turns into a skip."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from config import load_settings

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = load_settings()
BOOTSTRAP = SETTINGS.kafka.bootstrap_servers
ADMIN_DSN = SETTINGS.postgres.dsn


def _reachable(hostport: str) -> bool:
    host, _, port = hostport.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    if not _reachable(BOOTSTRAP):
        pytest.fail(f"Kafka is not reachable at {BOOTSTRAP}: run scripts/services.sh start")
    return BOOTSTRAP


@pytest.fixture(scope="session")
def pg_admin_dsn() -> str:
    try:
        with psycopg.connect(ADMIN_DSN, connect_timeout=3) as c:
            c.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL is not reachable ({exc}): run scripts/services.sh start")
    return ADMIN_DSN


def _dsn_for(dsn: str, db: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{db}"


@pytest.fixture
def fresh_db(pg_admin_dsn: str) -> Iterator[str]:
    """A new, migrated database for one test; dropped afterwards."""
    from core.store.schema import migrate

    name = f"tj_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    dsn = _dsn_for(pg_admin_dsn, name)
    migrate(dsn)
    yield dsn
    with psycopg.connect(pg_admin_dsn, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture
def service_env(kafka_bootstrap: str, fresh_db: str, topic_prefix: str) -> dict[str, str]:
    """Environment for pipeline subprocesses, isolated by topic prefix and database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TINGJIAN_")}
    env.update(
        {
            "TINGJIAN_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
            "TINGJIAN_KAFKA__TOPIC_PREFIX": topic_prefix,
            "TINGJIAN_KAFKA__PARTITIONS": "3",
            "TINGJIAN_POSTGRES__DSN": fresh_db,
            "TINGJIAN_TRIAGE__GROUP_ID": f"{topic_prefix}triage",
            "TINGJIAN_SINK__GROUP_ID": f"{topic_prefix}sink",
            "TINGJIAN_TRIAGE__METRICS_PORT": "0",
            "TINGJIAN_SINK__METRICS_PORT": "0",
            "TINGJIAN_EMAIL__METRICS_PORT": "0",
            "TINGJIAN_WEB__RATE_LIMIT_PER_MINUTE": "100000",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


IMAP = ("127.0.0.1", 10143, "tingjian", "tingjian")


@pytest.fixture
def imap_mailbox() -> Iterator[str]:
    """A fresh mailbox on the local dovecot (scripts/dovecot.sh), deleted after."""
    import imaplib

    try:
        conn = imaplib.IMAP4(IMAP[0], IMAP[1], timeout=10)
        conn.login(IMAP[2], IMAP[3])
    except OSError as exc:
        pytest.fail(
            f"IMAP server not reachable at {IMAP[0]}:{IMAP[1]} ({exc}): run scripts/dovecot.sh start"
        )
    name = f"T{uuid.uuid4().hex[:10]}"
    conn.create(name)
    yield name
    conn.delete(name)
    conn.logout()
