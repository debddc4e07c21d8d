"""The email connector against a real IMAP server (dovecot) and a real broker."""

from __future__ import annotations

import base64
import imaplib
import json
import threading
from pathlib import Path

from kafka import KafkaConsumer

from config import load_settings
from core.kafka import ensure_topics, make_producer, send_all
from ingest.checkpoints import CheckpointStore
from ingest.email.imap_source import ImapSource
from models import DeadLetter, FeedbackReceived, Topics
from tests.conftest import IMAP

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
EXPECTED = json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))


def _imap() -> imaplib.IMAP4:
    c = imaplib.IMAP4(IMAP[0], IMAP[1], timeout=10)
    c.login(IMAP[2], IMAP[3])
    return c


def _drain(topic: str, bootstrap: str, expect: int, timeout_ms: int = 4000) -> list[bytes]:
    c = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=timeout_ms,
    )
    out = [m.value for m in c]
    c.close()
    return out


def test_corpus_through_imap_once_and_only_once(
    kafka_bootstrap: str, fresh_db: str, topic_prefix: str, imap_mailbox: str
) -> None:
    settings = load_settings(
        {
            "kafka": {
                "bootstrap_servers": kafka_bootstrap,
                "topic_prefix": topic_prefix,
                "partitions": 1,
            },
            "postgres": {"dsn": fresh_db},
            "email": {"mailbox": imap_mailbox, "batch_size": 7},
        }
    )
    topics = Topics(topic_prefix)
    ensure_topics(settings.kafka, topics)
    conn = _imap()
    for name in sorted(EXPECTED):
        conn.append(imap_mailbox, None, None, (CORPUS / f"{name}.eml").read_bytes())
    producer = make_producer(settings.kafka)
    store = CheckpointStore(fresh_db, "email:test")
    src = ImapSource(
        settings.email,
        store,
        lambda outs: send_all(producer, outs, 30),
        topics=topics,
        hash_key="k" * 16,
        stop=threading.Event(),
    )
    assert src.poll_once(conn) == len(EXPECTED)
    accepted = sum(1 for e in EXPECTED.values() if e["outcome"] == "accept")
    rejected = sum(1 for e in EXPECTED.values() if e["outcome"] == "reject")

    items = [
        FeedbackReceived.model_validate_json(v)
        for v in _drain(topics.received, kafka_bootstrap, accepted)
    ]
    assert len(items) == accepted
    assert len({i.source_id for i in items}) == accepted
    dls = [DeadLetter.model_validate_json(v) for v in _drain(topics.dlq, kafka_bootstrap, rejected)]
    assert len(dls) == rejected
    assert all(d.stage == "ingest_email" for d in dls)
    raws = {base64.b64decode(d.payload_b64) for d in dls}
    # raw bytes kept for replay (dovecot itself turns the NUL into another byte on APPEND)
    assert any(r.endswith(b" this is not a mail at all \xff\xfe") for r in raws)
    huge = [d for d in dls if "too_large" in d.error]
    assert huge and "raw truncated" in huge[0].error
    assert store.get(imap_mailbox)["last_uid"] == len(EXPECTED)

    # processed mail is flagged \Seen
    conn.select(imap_mailbox)
    _typ, data = conn.uid("SEARCH", None, "UNSEEN")
    assert data[0] == b""

    # a second poll finds nothing new
    assert src.poll_once(conn) == 0

    # the mailbox is rebuilt (new UIDVALIDITY) with the same mail: no duplicates
    conn.select("INBOX")
    conn.delete(imap_mailbox)
    conn.create(imap_mailbox)
    for name in sorted(EXPECTED)[:10]:
        conn.append(imap_mailbox, None, None, (CORPUS / f"{name}.eml").read_bytes())
    assert src.poll_once(conn) == 10
    assert len(_drain(topics.received, kafka_bootstrap, accepted, 3000)) == accepted
    conn.logout()


def test_move_to_processed_folder(
    kafka_bootstrap: str, fresh_db: str, topic_prefix: str, imap_mailbox: str
) -> None:
    settings = load_settings(
        {
            "kafka": {
                "bootstrap_servers": kafka_bootstrap,
                "topic_prefix": topic_prefix,
                "partitions": 1,
            },
            "email": {
                "mailbox": imap_mailbox,
                "processed_action": "move",
                "processed_folder": imap_mailbox + "-done",
            },
        }
    )
    topics = Topics(topic_prefix)
    ensure_topics(settings.kafka, topics)
    conn = _imap()
    conn.create(imap_mailbox + "-done")
    conn.append(imap_mailbox, None, None, (CORPUS / "01_utf8_plain.eml").read_bytes())
    producer = make_producer(settings.kafka)
    src = ImapSource(
        settings.email,
        CheckpointStore(fresh_db, "email:move"),
        lambda outs: send_all(producer, outs, 30),
        topics=topics,
        hash_key="k" * 16,
        stop=threading.Event(),
    )
    assert src.poll_once(conn) == 1
    assert conn.select(imap_mailbox)[1] == [b"0"]
    assert conn.select(imap_mailbox + "-done")[1] == [b"1"]
    conn.select("INBOX")
    conn.delete(imap_mailbox + "-done")
    conn.logout()


HELDOUT = CORPUS / "heldout"


def test_heldout_hard_mail_through_imap_none_crashes_bulk_counted_apart(
    kafka_bootstrap: str, fresh_db: str, topic_prefix: str, imap_mailbox: str
) -> None:
    """Issue 13: free-text dates, MIME bombs, mails without text and newsletters
    go through the real connector: none stops it, each lands where it should."""
    from prometheus_client import REGISTRY

    manifest = json.loads((HELDOUT / "manifest.json").read_text(encoding="utf-8"))

    def count(outcome: str) -> float:
        v = REGISTRY.get_sample_value(
            "tingjian_ingest_items_total", {"connector": "email", "outcome": outcome}
        )
        return v or 0.0

    settings = load_settings(
        {
            "kafka": {
                "bootstrap_servers": kafka_bootstrap,
                "topic_prefix": topic_prefix,
                "partitions": 1,
            },
            "postgres": {"dsn": fresh_db},
            "email": {"mailbox": imap_mailbox, "batch_size": 8},
        }
    )
    topics = Topics(topic_prefix)
    ensure_topics(settings.kafka, topics)
    conn = _imap()
    for name in sorted(manifest):
        conn.append(imap_mailbox, None, None, (HELDOUT / f"{name}.eml").read_bytes())
    producer = make_producer(settings.kafka)
    src = ImapSource(
        settings.email,
        CheckpointStore(fresh_db, "email:heldout"),
        lambda outs: send_all(producer, outs, 30),
        topics=topics,
        hash_key="k" * 16,
        stop=threading.Event(),
    )
    before = {k: count(k) for k in ("bulk", "auto_reply", "rejected_empty")}
    assert src.poll_once(conn) == len(manifest)
    by = {k: sum(1 for e in manifest.values() if e["outcome"] == k) for k in ("accept", "bulk")}
    assert by["bulk"] == 3
    assert count("bulk") - before["bulk"] == by["bulk"]
    assert count("auto_reply") - before["auto_reply"] == 1  # h29 only, not the newsletters
    empty = sum(1 for e in manifest.values() if e.get("reason") == "empty")
    assert count("rejected_empty") - before["rejected_empty"] == empty
    items = [
        FeedbackReceived.model_validate_json(v)
        for v in _drain(topics.received, kafka_bootstrap, by["accept"])
    ]
    assert len(items) == by["accept"]
    dated = [i for i in items if i.source_id == "h04@heldout.tingjian.test"]
    assert dated and "date_unparsed" in dated[0].flags and dated[0].metadata["sent_at"]
    dls = [DeadLetter.model_validate_json(v) for v in _drain(topics.dlq, kafka_bootstrap, 5)]
    assert sum("empty: no text" in d.error for d in dls) == empty
    conn.logout()
