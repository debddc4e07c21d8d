"""``tingjian ingest social --source NAME``: poll a platform's comment API."""

from __future__ import annotations

import threading
from typing import Any

from config import Settings
from core.errors import ConfigError
from ingest.social.adapters import build_adapter
from ingest.social.poller import SocialPoller
from tingjian.services.pull import PullService, open_io


def build(settings: Settings, source: str, metrics_port: int | None = None) -> PullService:
    if source not in settings.social:
        known = ", ".join(sorted(settings.social)) or "none configured"
        raise ConfigError(
            f"--source: unknown social source {source!r} (social.<name> in the config; known: {known})"
        )
    cfg = settings.social[source]
    io = open_io(settings, f"social:{source}", "-social")
    poller = SocialPoller(
        source,
        cfg,
        build_adapter(cfg),
        io.store,
        io.send,
        topics=io.topics,
        hash_key=settings.privacy.hash_key,
        stop=threading.Event(),
    )

    def health() -> dict[str, Any]:
        st = poller.state
        return {
            "ok": st.last_error is None,
            "polls": st.polls,
            "produced": st.produced,
            "token_expired": st.token_expired,
            "last_error": st.last_error,
        }

    port = cfg.metrics_port if metrics_port is None else metrics_port
    return PullService("social connector", io, poller, health, port)
