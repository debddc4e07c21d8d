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
from collections.abc import Sequence
from dataclasses import dataclass

from config.settings import EmailSettings
from core.dead_letter import dead_letter
from core.errors import SourceError, StoreError, TransportError
from ingest.base import Candidate, PullSource, Send
from ingest.checkpoints import CheckpointStore
from ingest.email.parse import MailLimits, parse_mail
from models import Topics

log = logging.getLogger(__name__)
# Kafka's default message limit is 1 MB: a dead letter keeps at most this much raw mail.
DLQ_RAW_LIMIT = 512 * 1024


class MailError(SourceError):
    """The IMAP server failed or refused, or a mail cannot be taken."""


@dataclass
class ImapStats:
    polls: int = 0
    produced: int = 0
    last_error: str | None = None


class ImapSource(PullSource):
    connector = "email"

    def __init__(
        self,
        cfg: EmailSettings,
        store: CheckpointStore,
        send: Send,
        *,
        topics: Topics,
        hash_key: str,
        stop: threading.Event,
    ) -> None:
        super().__init__(store, send, topics, hash_key)
        self.cfg, self.stop = cfg, stop
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
        ck = self.checkpoints.get(mailbox) or {}
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
        candidates: list[Candidate] = []
        for uid in uids:
            o = parse_mail(raws.get(uid, b""), self.limits, mailbox=self.cfg.mailbox)
            # The content hash is a second key: it catches a copy of the same
            # mail without Message-ID, or a re-fetch after UIDVALIDITY changed.
            sha = f"sha256:{o.content_hash}"
            keys = ((o.message_id and f"mid:{o.message_id}") or sha, sha)
            if o.kind == "accept" and o.item is not None:
                candidates.append(Candidate(keys, item=o.item))
            elif o.kind in ("auto_reply", "bounce", "bulk"):
                log.info(
                    "automatic mail skipped", extra={"kind": o.kind, "detail": o.detail, "uid": uid}
                )
                candidates.append(Candidate(keys, outcome=o.kind))
            else:
                raw = raws.get(uid, b"")
                note = (
                    f" (raw truncated to {DLQ_RAW_LIMIT} of {len(raw)} bytes)"
                    if len(raw) > DLQ_RAW_LIMIT
                    else ""
                )
                dl = dead_letter(
                    "ingest_email",
                    MailError(f"{o.reason}: {o.detail}{note}"),
                    raw,
                    max_payload_bytes=DLQ_RAW_LIMIT,
                )
                candidates.append(Candidate(keys, dead_letter=dl, outcome=f"rejected_{o.reason}"))
        done = self.publish(
            candidates, (self.cfg.mailbox, {"uidvalidity": uidvalidity, "last_uid": max(uids)})
        )
        self.stats.produced += done.produced + done.dead_lettered
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
