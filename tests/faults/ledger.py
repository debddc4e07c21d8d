"""The fault suite's ledger: a load generator that records every input the
system acknowledged, and a checker that proves none was lost or doubled.

The invariant after each scenario: every acknowledged receipt is stored (a ticket
of its own, or merged into its customer's open ticket as a repeat), a
quarantined item or a dead letter; no (channel, source_id) is stored twice;
every consumer's lag is back to 0; every process recovered by itself; no
canary contact appears in the clear in any log, metrics page or dump.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg
from kafka import KafkaConsumer, TopicPartition

from tests.helpers import TEMPLATES, Proc, wait_for

# Contacts planted in the load: none may leave the store unmasked.
CANARY_PHONE = "13987650123"
CANARY_EMAIL = "canary.ledger@example.com"
CANARY_ACCOUNT = "wx_canary_ledger_77"
CANARIES = (CANARY_PHONE, CANARY_EMAIL, CANARY_ACCOUNT)


@dataclass
class Ledger:
    """Posts ``total`` items to the web connector from ``clients`` threads, each
    retried with its Idempotency-Key until acknowledged (what a well-behaved
    client does), bounded by ``deadline_s``."""

    url: str
    total: int
    clients: int = 4
    deadline_s: float = 150.0
    acked: dict[int, str] = field(default_factory=dict)  # n -> receipt (source id)
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def body(self, n: int) -> bytes:
        doc: dict[str, object] = {
            "text": TEMPLATES[n % len(TEMPLATES)].format(n=n) + f"（账号 {CANARY_ACCOUNT}）"
            if n % 50 == 0
            else TEMPLATES[n % len(TEMPLATES)].format(n=n),
            "contact": CANARY_PHONE if n % 50 == 0 else f"136{n:08d}",
        }
        if n % 50 == 25:
            doc["contact"] = CANARY_EMAIL
        return json.dumps(doc, ensure_ascii=False).encode()

    def _post(self, n: int, deadline: float) -> None:
        while time.monotonic() < deadline:
            req = urllib.request.Request(
                self.url,
                data=self.body(n),
                headers={"Content-Type": "application/json", "Idempotency-Key": f"ledger-{n}"},
            )
            try:
                with urllib.request.urlopen(req, timeout=15) as r:
                    receipt = json.loads(r.read())["receipt_id"]
                with self._lock:
                    self.acked[n] = receipt
                return
            except urllib.error.HTTPError as exc:
                # 503 is the only refusal a retry may cure; anything else is a defect.
                assert exc.code == 503, f"item {n}: HTTP {exc.code}"
            except (
                urllib.error.URLError,
                ConnectionError,
                TimeoutError,
                http.client.HTTPException,
            ):
                pass
            with self._lock:
                self.retries += 1
            time.sleep(0.2)

    def start(self) -> Ledger:
        deadline = time.monotonic() + self.deadline_s

        def run(k: int) -> None:
            for n in range(k, self.total, self.clients):
                self._post(n, deadline)

        self._threads = [
            threading.Thread(target=run, args=(k,), daemon=True) for k in range(self.clients)
        ]
        for t in self._threads:
            t.start()
        return self

    def join(self) -> None:
        for t in self._threads:
            t.join(self.deadline_s + 5)
        missing = sorted(set(range(self.total)) - set(self.acked))
        assert not missing, f"{len(missing)} items never acknowledged, first {missing[:5]}"


def topic_source_ids(bootstrap: str, topic: str) -> list[str]:
    """Source ids of the items in the quarantine or dead-letter topic."""
    c = KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False)
    out: list[str] = []
    try:
        tps = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or ())]
        c.assign(tps)
        c.seek_to_beginning(*tps)
        ends = c.end_offsets(tps)
        left = {tp for tp, e in ends.items() if e > 0}
        deadline = time.monotonic() + 30
        while left and time.monotonic() < deadline:
            for tp, recs in c.poll(timeout_ms=1000).items():
                for r in recs:
                    out += _source_ids(r.value or b"")
                    if r.offset + 1 >= ends[tp]:
                        left.discard(tp)
    finally:
        c.close()
    return out


def _source_ids(value: bytes) -> list[str]:
    try:
        doc = json.loads(value)
    except ValueError:
        return []
    if "payload_b64" in doc:  # a dead letter: the original record inside
        try:
            doc = json.loads(base64.b64decode(doc["payload_b64"]))
        except ValueError:
            return []
    fb = doc.get("feedback", doc) if isinstance(doc, dict) else {}
    sid = fb.get("source_id") if isinstance(fb, dict) else None
    return [sid] if isinstance(sid, str) else []


def lag_of(metrics_url: str) -> float | None:
    try:
        with urllib.request.urlopen(metrics_url, timeout=3) as r:
            page = r.read().decode()
    except OSError:
        return None
    values = [float(v) for v in re.findall(r"^tingjian_consumer_lag\{[^}]*\} (\S+)$", page, re.M)]
    return sum(values) if values else None


def check(
    ledger: Ledger,
    dsn: str,
    bootstrap: str,
    quarantine_topic: str,
    dlq_topic: str,
    procs: Iterable[Proc],
    metrics_urls: Iterable[str],
    *,
    settle_s: float = 120,
) -> dict[str, int]:
    """The invariant; returns where the acknowledged items went."""
    procs, metrics_urls = list(procs), list(metrics_urls)
    acked = set(ledger.acked.values())

    def stored() -> set[str]:
        with psycopg.connect(dsn) as c:
            # Every stored feedback, its own ticket or merged into one (a repeat).
            rows = c.execute("SELECT source_id FROM ticket_feedback").fetchall()
            return {r[0] for r in rows}

    def accounted() -> bool:
        return not acked - stored() - set(topic_source_ids(bootstrap, quarantine_topic))

    try:
        wait_for(
            accounted, settle_s, "every acknowledged item stored, quarantined or dead-lettered"
        )
    except AssertionError as exc:
        missing = acked - stored() - set(topic_source_ids(bootstrap, quarantine_topic))
        logs = "\n".join(f"--- {p.name}\n{p.log()[-1500:]}" for p in procs)
        raise AssertionError(f"{exc}: {len(missing)} of {len(acked)} missing\n{logs}") from exc
    quarantined = set(topic_source_ids(bootstrap, quarantine_topic))
    dead = set(topic_source_ids(bootstrap, dlq_topic))
    tickets = stored()
    lost = acked - tickets - quarantined - dead
    assert not lost, f"{len(lost)} acknowledged items lost"
    with psycopg.connect(dsn) as c:
        doubled = c.execute(
            "SELECT channel, source_id, count(*) FROM tickets"
            " GROUP BY 1, 2 HAVING count(*) > 1 LIMIT 5"
        ).fetchall()
    assert not doubled, f"stored twice: {doubled}"
    for url in metrics_urls:
        wait_for(lambda u=url: lag_of(u) == 0, 60, f"consumer lag 0 at {url}")  # type: ignore[misc]
    dead_procs = [p.name for p in procs if not p.alive()]
    assert not dead_procs, f"not recovered by themselves: {dead_procs}"
    scan_for_canaries([p.log_path.read_text(errors="replace") for p in procs])
    pages = []
    for url in metrics_urls:
        with urllib.request.urlopen(url, timeout=3) as r:
            pages.append(r.read().decode())
    scan_for_canaries(pages)
    with psycopg.connect(dsn) as c:
        merged = {r[0] for r in c.execute("SELECT source_id FROM ticket_feedback WHERE merged")}
    return {
        "acked": len(acked),
        "stored": len(acked & tickets),
        "merged": len(acked & merged),
        "quarantined": len(acked & quarantined),
        "dead_lettered": len(acked & dead),
    }


def scan_for_canaries(texts: Iterable[str]) -> None:
    for i, text in enumerate(texts):
        for canary in CANARIES:
            assert canary not in text, f"canary {canary[:4]}… in the clear in output {i}"
