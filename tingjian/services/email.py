"""``tingjian ingest email``: poll an IMAP mailbox."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from config import Settings
from ingest.email.imap_source import ImapSource
from tingjian.services.pull import ConnectorIO, open_io


@dataclass
class EmailService:
    io: ConnectorIO
    source: ImapSource
    metrics_port: int | None
    name: str = "email connector"

    def run(self, stop: threading.Event) -> None:
        self.source.stop = stop
        self.source.run()

    def health(self) -> dict[str, Any]:
        st = self.source.stats
        return {
            "ok": st.last_error is None,
            "polls": st.polls,
            "produced": st.produced,
            "last_error": st.last_error,
        }

    def close(self) -> None:
        self.io.close()


def build(settings: Settings, metrics_port: int | None = None) -> EmailService:
    cfg = settings.email
    io = open_io(settings, f"email:{cfg.username}@{cfg.host}", "-email")
    source = ImapSource(
        cfg,
        io.store,
        io.send,
        topics=io.topics,
        hash_key=settings.privacy.hash_key,
        stop=threading.Event(),
    )
    return EmailService(io, source, cfg.metrics_port if metrics_port is None else metrics_port)
