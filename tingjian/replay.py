"""``tingjian dlq replay``: send dead letters back through the normal path once
the cause is fixed (a new model, a migration, a parser fix).

A dead letter of a stream stage goes back to the topic it was read from, with
its original key, so the stage (and every other consumer of that topic) sees
it again; a dead letter of the email connector is parsed again, as the
connector would, and what it accepts now goes to the received topic. Replaying
is safe to repeat: tickets are unique by (channel, source_id), so an item that
already became a ticket is merged into it, never counted twice.

The dead letters themselves stay where they are (a topic is a log): ``--since``
picks the ones failed after a time, e.g. after the previous replay.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from config import Settings
from core.errors import TransportError
from core.kafka import Outgoing, make_producer, read_to_end, send_all
from models import DeadLetter, Topics

EMAIL_STAGE = "ingest_email"


@dataclass(frozen=True)
class Planned:
    """What one dead letter becomes: a message to send, or why it is not sent."""

    outcome: str  # "to <topic>" or "skipped: <why>"
    message: Outgoing | None = None


_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """An ISO time (``2026-12-01T08:00+08:00``; a date alone is midnight UTC) or
    an age (``30m``, ``2h``, ``7d``)."""
    m = _DURATION.match(value.strip())
    if m:
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"--since {value!r}: not an ISO time nor an age like 2h or 7d") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def plan(
    dl: DeadLetter,
    key: bytes | None,
    *,
    stage: str | None,
    since: datetime | None,
    fetch_original: Callable[[str, int, int], bytes | None],
    reparse_email: Callable[[bytes], tuple[str, Outgoing | None]],
) -> Planned:
    """Decide what one dead letter becomes. Pure but for the two callables
    (reading the original record, parsing a mail) passed in."""
    if stage and dl.stage != stage:
        return Planned("skipped: other stage")
    if since and dl.failed_at < since:
        return Planned("skipped: before --since")
    payload = base64.b64decode(dl.payload_b64)
    if dl.truncated:
        if dl.source_topic is None or dl.source_partition is None or dl.source_offset is None:
            return Planned("skipped: truncated, original not kept")
        whole = fetch_original(dl.source_topic, dl.source_partition, dl.source_offset)
        if whole is None:
            return Planned("skipped: truncated, original past retention")
        if dl.payload_sha256 and hashlib.sha256(whole).hexdigest() != dl.payload_sha256:
            return Planned("skipped: truncated, original does not match its hash")
        payload = whole
    if dl.stage == EMAIL_STAGE:
        outcome, msg = reparse_email(payload)
        return Planned(outcome, msg)
    if dl.source_topic is None:
        return Planned(f"skipped: stage {dl.stage} has no source topic")
    return Planned(f"to {dl.source_topic}", Outgoing(dl.source_topic, key, payload))


def _fetcher(settings: Settings) -> Callable[[str, int, int], bytes | None]:
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    def fetch(topic: str, partition: int, offset: int) -> bytes | None:
        tp = TopicPartition(topic, partition)
        try:
            c = KafkaConsumer(
                bootstrap_servers=settings.kafka.bootstrap_servers.split(","),
                enable_auto_commit=False,
                consumer_timeout_ms=5000,
                max_partition_fetch_bytes=64 * 1024 * 1024,
                fetch_max_bytes=64 * 1024 * 1024,
            )
        except KafkaError as exc:
            raise TransportError(f"cannot read {topic}: {exc}") from exc
        try:
            c.assign([tp])
            if c.beginning_offsets([tp])[tp] > offset:
                return None
            c.seek(tp, offset)
            for r in c:
                if r.offset == offset:
                    return bytes(r.value or b"")
                if r.offset > offset:
                    return None
            return None
        except KafkaError as exc:
            raise TransportError(f"cannot read {topic}: {exc}") from exc
        finally:
            c.close()

    return fetch


def _email_reparser(
    settings: Settings, topics: Topics
) -> Callable[[bytes], tuple[str, Outgoing | None]]:
    from core.privacy import partition_key
    from ingest.email.parse import MailLimits, parse_mail

    def reparse(raw: bytes) -> tuple[str, Outgoing | None]:
        o = parse_mail(raw, MailLimits(), mailbox=settings.email.mailbox)
        if o.kind != "accept" or o.item is None:
            return f"skipped: mail still {o.kind} ({o.reason or o.kind})", None
        key = partition_key(o.item, settings.privacy.hash_key)
        return f"to {topics.received}", Outgoing(
            topics.received, key, o.item.model_dump_json().encode()
        )

    return reparse


def _dead_letters(
    settings: Settings, topic: str
) -> Iterable[tuple[DeadLetter | None, bytes | None]]:
    for r in read_to_end(settings.kafka.bootstrap_servers, topic):
        try:
            yield DeadLetter.model_validate_json(r.value or b""), r.key
        except ValidationError:
            yield None, None


def replay(settings: Settings, *, stage: str | None, since: datetime | None, dry_run: bool) -> int:
    topics = Topics(settings.kafka.topic_prefix)
    fetch = _fetcher(settings)
    reparse = _email_reparser(settings, topics)
    counts: Counter[str] = Counter()
    out: list[Outgoing] = []
    for dl, key in _dead_letters(settings, topics.dlq):
        if dl is None:
            counts["skipped: not a dead letter"] += 1
            continue
        p = plan(dl, key, stage=stage, since=since, fetch_original=fetch, reparse_email=reparse)
        counts[p.outcome] += 1
        if p.message is not None:
            out.append(p.message)
    if out and not dry_run:
        producer = make_producer(settings.kafka, client_suffix="-replay")
        try:
            for i in range(0, len(out), 500):
                send_all(producer, out[i : i + 500], settings.kafka.request_timeout_ms / 1000)
        finally:
            producer.close(timeout=5)
    verb = "would send" if dry_run else "sent"
    if dry_run:
        print("dry run: nothing sent")
    for outcome, n in sorted(counts.items()):
        print(f"{n:6d}  {outcome}")
    print(
        json.dumps({"dead_letters": sum(counts.values()), verb.replace(" ", "_"): len(out)}),
        file=sys.stderr,
    )
    return 0
