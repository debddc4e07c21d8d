"""ASGI middleware every HTTP service wraps its app in: request count by route
and status, and latency, with bounded labels."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from core.metrics import HTTP_REQUESTS, HTTP_SECONDS, Stage

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Measured:
    """Wraps an ASGI app; ``routes`` are the paths reported by name (a path
    prefix ending in ``/`` covers what is below it), everything else is "other"."""

    def __init__(self, app: ASGIApp, stage: Stage, routes: Collection[str]) -> None:
        self.app, self.stage = app, stage
        self.exact = frozenset(r for r in routes if not r.endswith("/"))
        self.prefixes = tuple(r for r in routes if r.endswith("/"))

    def route(self, path: str) -> str:
        if path in self.exact:
            return path
        for prefix in self.prefixes:
            if path.startswith(prefix):
                return prefix + "*"
        return "other"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees when the app dies before answering

        async def measured_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, measured_send)
        finally:
            route = self.route(str(scope.get("path", "")))
            HTTP_REQUESTS.labels(self.stage, route, str(status)).inc()
            HTTP_SECONDS.labels(self.stage, route).observe(time.perf_counter() - started)
