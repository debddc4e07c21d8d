"""``tingjian ingest email``: poll an IMAP mailbox."""

from __future__ import annotations

import threading
from typing import Any

from config import Settings
from ingest.email.imap_source import ImapSource
from tingjian.services.pull import PullService, open_io


def build(settings: Settings, metrics_port: int | None = None) -> PullService:
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

    def health() -> dict[str, Any]:
        st = source.stats
        return {
            "ok": st.last_error is None,
            "polls": st.polls,
            "produced": st.produced,
            "last_error": st.last_error,
        }

    port = cfg.metrics_port if metrics_port is None else metrics_port
    return PullService("email connector", io, source, health, port)
