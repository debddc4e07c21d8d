"""Operator tools: feed a sample file, print tickets (contacts masked)."""

from __future__ import annotations

import hashlib
import json
import sys
import time
import unicodedata
import urllib.error
import urllib.request

from config import Settings
from core.privacy import mask_email, mask_phone


def _feed_key(line: str) -> str:
    """Idempotency from the content (or an explicit ``id``), never from the
    file's path: another file fed under the same name is other feedback."""
    try:
        doc = json.loads(line)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("id"), str | int) and str(doc["id"]).strip():
        return "feed-id:" + str(doc["id"]).strip()[:180]
    return "feed-sha256:" + hashlib.sha256(line.strip().encode("utf-8")).hexdigest()


def feed_file(path: str, url: str, max_attempts: int = 8, max_wait_s: float = 30.0) -> int:
    """Post every line; a 429 or 503 is retried after its Retry-After (bounded),
    so a long file is throttled, never thinned."""
    ok = failed = 0
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            headers = {"Content-Type": "application/json", "Idempotency-Key": _feed_key(line)}
            for attempt in range(1, max_attempts + 1):
                req = urllib.request.Request(url, data=line.encode("utf-8"), headers=headers)
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        ok += resp.status == 202
                    break
                except urllib.error.HTTPError as exc:
                    body = exc.read().decode(errors="replace")
                    if exc.code in (429, 503) and attempt < max_attempts:
                        try:
                            wait = float(exc.headers.get("Retry-After", "1"))
                        except ValueError:
                            wait = 1.0
                        time.sleep(min(max(wait, 0.1), max_wait_s))
                        continue
                    failed += 1
                    print(f"line {n}: HTTP {exc.code}: {body}", file=sys.stderr)
                    break
                except urllib.error.URLError as exc:
                    print(f"cannot reach {url}: {exc.reason}", file=sys.stderr)
                    return 1
    print(f"posted {ok} feedback items, {failed} rejected")
    return 0 if failed == 0 else 1


def inspect_email(path: str) -> int:
    """Print, as JSON, what the email connector would make of one .eml file.
    Contacts are masked: this output is for people, not for the CRM store."""
    from core.privacy import mask_text
    from ingest.email.parse import parse_mail

    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        print(f"tingjian: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    doc = parse_mail(raw).as_dict()
    print(mask_text(json.dumps(doc, ensure_ascii=False, indent=2)))
    return 0


def dump_topic(settings: Settings, which: str, limit: int, timeout_s: float = 5.0) -> int:
    """Print the dead-letter or quarantine topic as JSON lines, personal data
    masked (SPEC §10): what an operator reads, never the raw contacts."""
    import base64

    from core.kafka import read_to_end
    from core.privacy import mask_record
    from models import Topics

    topics = Topics(settings.kafka.topic_prefix)
    topic = topics.dlq if which == "dlq" else topics.quarantine
    shown = 0
    for msg in read_to_end(settings.kafka.bootstrap_servers, topic, timeout_s):
        try:
            doc = json.loads(msg.value)
        except ValueError:
            doc = {"unreadable": msg.value[:200].decode("utf-8", "replace")}
        if isinstance(doc, dict) and "payload_b64" in doc:
            raw = base64.b64decode(doc.pop("payload_b64"))
            try:  # a record's contact fields are masked by key, not by shape
                doc["payload"] = json.loads(raw)
            except ValueError:
                doc["payload"] = raw[:4000].decode("utf-8", "replace")
        doc = (
            {"partition": msg.partition, "offset": msg.offset, **doc}
            if isinstance(doc, dict)
            else doc
        )
        print(json.dumps(mask_record(doc), ensure_ascii=False))
        shown += 1
        if shown >= limit:
            break
    print(f"({shown} records from {topic})", file=sys.stderr)
    return 0


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _pad(s: str, w: int) -> str:
    return s + " " * max(0, w - _width(s))


def print_tickets(settings: Settings, limit: int) -> int:
    from zoneinfo import ZoneInfo

    from sinks.crm.store import CrmStore

    store = CrmStore(
        settings.postgres.dsn,
        settings.business.ticket_number_format,
        ZoneInfo(settings.business.timezone),
    )
    try:
        tickets = store.recent_tickets(limit)
    finally:
        store.close()
    head = [
        "反馈编号",
        "渠道",
        "分类",
        "优先级",
        "情绪",
        "部门",
        "客户",
        "联系方式",
        "重复",
        "内容摘要",
    ]
    table = [head]
    for t in reversed(tickets):
        contact = (
            mask_phone(t.customer_phone)
            if t.customer_phone
            else mask_email(t.customer_email)
            if t.customer_email
            else ""
        )
        table.append(
            [
                t.ticket_no,
                t.channel,
                t.type,
                t.priority,
                t.sentiment,
                t.department,
                t.customer_name or "",
                contact,
                str(t.repeat_count),
                t.summary,
            ]
        )
    widths = [max(_width(r[i]) for r in table) for i in range(len(head))]
    for i, r in enumerate(table):
        print("  ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    quarantined = quarantine_count(settings)
    note = (
        f"; {quarantined} {'item' if quarantined == 1 else 'items'} quarantined,"
        " never tickets: `tingjian dump quarantine`"
        if quarantined
        else ""
    )
    print(f"({len(tickets)} tickets shown{note})")
    return 0


def quarantine_count(settings: Settings, timeout_s: float = 5.0) -> int | None:
    """Items in the quarantine topic (spam, empty), or None when Kafka does not answer."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    from models import Topics

    topic = Topics(settings.kafka.topic_prefix).quarantine
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka.bootstrap_servers.split(","),
            request_timeout_ms=int(timeout_s * 1000) + 1000,
            enable_auto_commit=False,
        )
    except KafkaError:
        return None
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        if not tps:
            return 0
        end = consumer.end_offsets(tps)
        start = consumer.beginning_offsets(tps)
        return sum(int(end[tp]) - int(start[tp]) for tp in tps)
    except KafkaError:
        return None
    finally:
        consumer.close()


def import_customers(settings: Settings, path: str) -> int:
    """``tingjian import customers FILE``: segments from a CRM customer list."""
    from pathlib import Path

    from core.errors import ContractError
    from core.store.schema import require_schema
    from crm.customers import CustomerBook, parse_customer
    from ingest.bulk.files import read_rows

    require_schema(settings.postgres.dsn, "CRM store")
    rows, bad = [], 0
    for n, row in read_rows(Path(path)):
        try:
            rows.append(parse_customer(row, settings.privacy.hash_key))
        except ContractError as exc:
            bad += 1
            print(f"row {n}: {exc}", file=sys.stderr)
    book = CustomerBook(settings.postgres.dsn)
    try:
        keys = book.upsert(rows, Path(path).name)
    finally:
        book.close()
    print(f"imported {len(rows)} customers ({keys} contact keys); {bad} rows rejected")
    return 0 if rows or not bad else 1


def export_corrections(settings: Settings, since: str | None, out: str | None) -> int:
    """``tingjian corrections export``: JSONL, one labeled item per corrected ticket."""
    import json
    from datetime import datetime

    from core.errors import ConfigError
    from crm.corrections import export_corrections as export

    try:
        when = datetime.fromisoformat(since) if since else None
    except ValueError as exc:
        raise ConfigError(f"--since: not an ISO date or time: {since}") from exc
    if when is not None and when.tzinfo is None:
        from zoneinfo import ZoneInfo

        when = when.replace(tzinfo=ZoneInfo(settings.business.timezone))
    rows, rep = export(settings.postgres.dsn, when)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            fh.write(lines)
    else:
        sys.stdout.write(lines)
    print(
        f"exported {rep.tickets} corrected tickets ({rep.corrections} corrections; latest"
        f" label wins; {rep.contradictions} tickets where agents disagreed)",
        file=sys.stderr,
    )
    return 0
