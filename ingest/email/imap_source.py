"""``tingjian ingest email``: poll an IMAP mailbox into Kafka, each mail once.

Checkpoint: (UIDVALIDITY, last UID) plus the Message-IDs / content hashes
already produced, moved in PostgreSQL only after Kafka acknowledged the chunk.
A changed UIDVALIDITY restarts from UID 1 and the seen-set keeps re-fetched
mail out of Kafka.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from config.settings import EmailSettings
from ingest.checkpoints import CheckpointStore
from ingest.email.parse import MailLimits, MailOutcome, parse_mail
from tingjian.errors import StoreError, TransportError
from tingjian.privacy import customer_key
from tingjian.runtime.dead_letter import dead_letter
from tingjian.runtime.kafka_io import Outgoing
from tingjian.runtime.observability import INGEST_ITEMS

log = logging.getLogger(__name__)
# Kafka's default message limit is 1 MB: a dead letter keeps at most this much raw mail.
DLQ_RAW_LIMIT = 512 * 1024


class MailError(Exception):
    pass


@dataclass
class ImapStats:
    polls: int = 0
    produced: int = 0
    last_error: str | None = None


class ImapSource:
    def __init__(
        self,
        cfg: EmailSettings,
        store: CheckpointStore,
        send: Callable[[Sequence[Outgoing]], object],
        *,
        received_topic: str,
        dlq_topic: str,
        hash_key: str,
        stop: threading.Event,
    ) -> None:
        self.cfg, self.store, self.send, self.stop = cfg, store, send, stop
        self.received_topic, self.dlq_topic, self.hash_key = received_topic, dlq_topic, hash_key
        self.limits = MailLimits(cfg.max_bytes, cfg.max_parts, cfg.max_depth)
        self.stats = ImapStats()

    # -- connection ------------------------------------------------------------------

    def _connect(self) -> imaplib.IMAP4:
        cls = imaplib.IMAP4_SSL if self.cfg.ssl else imaplib.IMAP4
        try:
            conn = cls(self.cfg.host, self.cfg.port, timeout=30)
            conn.login(self.cfg.username, self.cfg.password)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailError(f"IMAP {self.cfg.host}:{self.cfg.port}: {exc}") from exc
        return conn

    def run(self) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            try:
                conn = self._connect()
                try:
                    while not self.stop.is_set():
                        self.poll_once(conn)
                        backoff = 1.0
                        self.stop.wait(self.cfg.poll_interval_s)
                finally:
                    with contextlib.suppress(OSError, imaplib.IMAP4.error):
                        conn.logout()
            except (
                TimeoutError,
                MailError,
                TransportError,
                StoreError,
                imaplib.IMAP4.error,
                OSError,
            ) as exc:
                self.stats.last_error = str(exc)
                log.warning(
                    "email poll failed; retrying", extra={"error": str(exc), "backoff_s": backoff}
                )
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 60.0)

    # -- one poll -----------------------------------------------------------------------

    def poll_once(self, conn: imaplib.IMAP4) -> int:
        mailbox = self.cfg.mailbox
        typ, _ = conn.select(f'"{mailbox}"')
        if typ != "OK":
            raise MailError(f"cannot select mailbox {mailbox!r}")
        uidvalidity = int(conn.response("UIDVALIDITY")[1][0])
        ck = self.store.get(mailbox) or {}
        last = int(ck.get("last_uid", 0))
        if ck and int(ck.get("uidvalidity", 0)) != uidvalidity:
            log.warning(
                "UIDVALIDITY changed: rescanning the mailbox; the seen-set prevents duplicates",
                extra={"mailbox": mailbox, "old": ck.get("uidvalidity"), "new": uidvalidity},
            )
            last = 0
        typ, data = conn.uid("SEARCH", f"UID {last + 1}:*")
        if typ != "OK":
            raise MailError(f"UID SEARCH failed: {data!r}")
        uids = sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > last)
        self.stats.polls += 1
        done = 0
        for i in range(0, len(uids), self.cfg.batch_size):
            if self.stop.is_set():
                break
            chunk = uids[i : i + self.cfg.batch_size]
            done += self._process_chunk(conn, chunk, uidvalidity)
        return done

    def _fetch(self, conn: imaplib.IMAP4, uids: Sequence[int]) -> dict[int, bytes]:
        typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
        if typ != "OK":
            raise MailError(f"UID FETCH failed: {data!r}")
        out: dict[int, bytes] = {}
        for part in data:
            if isinstance(part, tuple):
                m = re.search(rb"UID (\d+)", part[0])
                if m:
                    out[int(m.group(1))] = part[1]
        return out

    def _process_chunk(self, conn: imaplib.IMAP4, uids: Sequence[int], uidvalidity: int) -> int:
        raws = self._fetch(conn, uids)
        outs: list[Outgoing] = []
        parsed: list[tuple[int, MailOutcome]] = [
            (uid, parse_mail(raws.get(uid, b""), self.limits, mailbox=self.cfg.mailbox))
            for uid in uids
        ]
        keys = {
            uid: (o.message_id and f"mid:{o.message_id}") or f"sha256:{o.content_hash}"
            for uid, o in parsed
        }
        # Seen before (a re-fetch after UIDVALIDITY changed, or a copy of the
        # same mail): a second content hash check catches copies without Message-ID.
        already = self.store.seen(
            [*keys.values(), *(f"sha256:{o.content_hash}" for _, o in parsed)]
        )
        new_keys: list[str] = []
        for uid, o in parsed:
            INGEST_ITEMS.labels("email", "received").inc()
            if keys[uid] in already or f"sha256:{o.content_hash}" in already:
                INGEST_ITEMS.labels("email", "duplicate").inc()
                continue
            new_keys += [keys[uid], f"sha256:{o.content_hash}"]
            if o.kind == "accept" and o.item is not None:
                c = o.item.customer
                pkey = (
                    customer_key(self.hash_key, phone=c.phone, email=c.email, account=c.account)
                    or o.item.source_key
                )
                outs.append(
                    Outgoing(self.received_topic, pkey.encode(), o.item.model_dump_json().encode())
                )
                INGEST_ITEMS.labels("email", "produced").inc()
            elif o.kind in ("auto_reply", "bounce"):
                INGEST_ITEMS.labels("email", o.kind).inc()
                log.info(
                    "automatic mail skipped", extra={"kind": o.kind, "detail": o.detail, "uid": uid}
                )
            else:
                INGEST_ITEMS.labels("email", f"rejected_{o.reason}").inc()
                raw = raws.get(uid, b"")
                note = (
                    f" (raw truncated to {DLQ_RAW_LIMIT} of {len(raw)} bytes)"
                    if len(raw) > DLQ_RAW_LIMIT
                    else ""
                )
                dl = dead_letter(
                    "ingest_email", MailError(f"{o.reason}: {o.detail}{note}"), raw[:DLQ_RAW_LIMIT]
                )
                outs.append(
                    Outgoing(self.dlq_topic, keys[uid].encode(), dl.model_dump_json().encode())
                )
        self.send(outs)  # raises TransportError: nothing below runs, the chunk is redone
        self.store.commit(
            self.cfg.mailbox, {"uidvalidity": uidvalidity, "last_uid": max(uids)}, new_keys
        )
        self.stats.produced += len(outs)
        self._mark_processed(conn, uids)
        return len(uids)

    def _mark_processed(self, conn: imaplib.IMAP4, uids: Sequence[int]) -> None:
        action = self.cfg.processed_action
        if action == "none" or not uids:
            return
        uid_set = ",".join(map(str, uids))
        try:
            if action == "flag":
                conn.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Seen)")
            else:
                typ, _ = conn.uid("MOVE", uid_set, f'"{self.cfg.processed_folder}"')
                if typ != "OK":  # servers without MOVE
                    conn.uid("COPY", uid_set, f'"{self.cfg.processed_folder}"')
                    conn.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)")
                    conn.expunge()
        except imaplib.IMAP4.error as exc:
            # The checkpoint already covers these mails: flagging is cosmetic.
            log.warning("could not mark mail processed", extra={"error": str(exc)})
