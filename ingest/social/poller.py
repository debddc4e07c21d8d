"""``tingjian ingest social --source NAME``: poll a platform's comment API.

Per thread (a post, an article), pages are fetched until the platform says
there are no more; the items are produced; after Kafka acknowledged them the
cursor and the items' keys are committed in PostgreSQL. 429 and 5xx back off
(honouring Retry-After), malformed answers are counted and retried, an expired
token is reported clearly and retried slowly: the service never dies of them.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from config.settings import SocialSourceSettings
from core.errors import StoreError, TransportError
from core.metrics import ERRORS
from ingest.base import Candidate, PullSource, Send
from ingest.checkpoints import CheckpointStore
from ingest.social.adapters import (
    Adapter,
    Comment,
    Malformed,
    PlatformError,
    Request,
    Throttled,
    TokenExpired,
    Transient,
)
from models import Customer, FeedbackReceived, Topics

log = logging.getLogger(__name__)
TOKEN_RETRY_S = 60.0


@dataclass
class PollerState:
    polls: int = 0
    produced: int = 0
    last_error: str | None = None
    token_expired: bool = False


def http_fetch(req: Request, timeout: float) -> tuple[int, bytes, dict[str, str]]:
    r = urllib.request.Request(req.url, data=req.body, method=req.method, headers=req.headers)
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return resp.status, resp.read(), dict(resp.headers.items())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read() or b"", dict(exc.headers.items()) if exc.headers else {}
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise Transient(f"cannot reach {req.url.split('?')[0]}: {exc}") from exc


def _retry_after(headers: dict[str, str]) -> float | None:
    for k, v in headers.items():
        if k.lower() == "retry-after":
            try:
                return max(0.0, float(v))
            except ValueError:
                return None
    return None


class SocialPoller(PullSource):
    connector = "social"
    stage = "ingest_social"

    def __init__(
        self,
        name: str,
        cfg: SocialSourceSettings,
        adapter: Adapter,
        store: CheckpointStore,
        send: Send,
        *,
        topics: Topics,
        hash_key: str,
        stop: threading.Event,
        fetch: Callable[[Request, float], tuple[int, bytes, dict[str, str]]] = http_fetch,
    ) -> None:
        super().__init__(store, send, topics, hash_key)
        self.name, self.cfg, self.adapter = name, cfg, adapter
        self.stop, self.fetch = stop, fetch
        self.state = PollerState()

    def run(self) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            wait = self.cfg.poll_interval_s
            try:
                self.poll_once()
                backoff = 1.0
                self.state.last_error = None
                self.state.token_expired = False
            except TokenExpired as exc:
                self.state.token_expired = True
                self.state.last_error = str(exc)
                ERRORS.labels(self.stage, "token_expired").inc()
                log.error(
                    "access token expired or invalid: refresh it in the config "
                    f"(social.{self.name}.access_token / TINGJIAN_SOCIAL__{self.name.upper()}__ACCESS_TOKEN)",
                    extra={"source": self.name, "error": str(exc)},
                )
                wait = TOKEN_RETRY_S
            except Throttled as exc:
                ERRORS.labels(self.stage, "throttled").inc()
                wait = exc.retry_after if exc.retry_after is not None else backoff
                backoff = min(backoff * 2, self.cfg.max_backoff_s)
                self.state.last_error = str(exc)
                log.warning(
                    "throttled by the platform", extra={"source": self.name, "retry_after_s": wait}
                )
            except (Transient, Malformed, TransportError, StoreError) as exc:
                ERRORS.labels(self.stage, type(exc).__name__).inc()
                wait = backoff
                backoff = min(backoff * 2, self.cfg.max_backoff_s)
                self.state.last_error = str(exc)
                log.warning(
                    "poll failed; will retry",
                    extra={"source": self.name, "error": str(exc), "backoff_s": wait},
                )
            self.stop.wait(min(wait, self.cfg.max_backoff_s))

    def _page(self, thread: str, cursor: dict[str, Any], page: Any | None) -> Any:
        req = self.adapter.request(thread, cursor, page)
        status, body, headers = self.fetch(req, self.cfg.request_timeout_s)
        try:
            return self.adapter.parse(thread, cursor, page, status, body)
        except Throttled as exc:
            raise Throttled(str(exc), _retry_after(headers)) from exc

    def poll_once(self) -> int:
        self.state.polls += 1
        total = 0
        for thread in self.adapter.threads():
            cursor: dict[str, Any] = self.checkpoints.get(thread) or {}
            comments: list[Comment] = []
            page: Any | None = None
            last_page: Any | None = None
            for _ in range(self.cfg.max_pages):
                got = self._page(thread, cursor, page)
                comments += got.comments
                last_page = page
                if got.next_page is None:
                    break
                page = got.next_page
            total += self._emit(thread, cursor, comments, last_page)
        return total

    def _emit(
        self, thread: str, cursor: dict[str, Any], comments: list[Comment], last_page: Any | None
    ) -> int:
        candidates: list[Candidate] = []
        for c in comments:
            keys = (f"{self.name}:{c.id}",)
            if not c.text.strip():
                candidates.append(Candidate(keys, outcome="rejected_empty"))
                continue
            item = FeedbackReceived(
                channel=self.cfg.channel,
                source_id=keys[0][:512],
                received_at=c.created_at,
                text=c.text[:65_536],
                customer=Customer(
                    name=(c.author or None) and c.author[:200],
                    account=c.author_id and f"{self.name}:{c.author_id}",
                ),
                metadata={"platform": self.cfg.adapter, "source": self.name, "thread": thread},
            )
            candidates.append(Candidate(keys, item=item))
        done = self.publish(candidates, (thread, self.adapter.advance(cursor, comments, last_page)))
        self.state.produced += done.produced
        return done.produced


__all__ = ["PlatformError", "SocialPoller"]
