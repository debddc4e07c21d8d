"""The web connector as an ASGI app (Starlette, served by uvicorn).

202 only after Kafka acknowledged the write; 400 with per-field errors; 413 over
the size limit; 503 when Kafka does not acknowledge. Never a 500 for any input.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingest.web.schema import WebFeedback
from models import FeedbackReceived
from tingjian.errors import TransportError
from tingjian.privacy import customer_key, mask_text
from tingjian.runtime.observability import ERRORS, MESSAGES_IN, MESSAGES_OUT

log = logging.getLogger(__name__)
STAGE = "ingest_web"

# Publishes one item and returns when Kafka acknowledged it (raises TransportError).
Publish = Callable[[str, bytes, bytes], None]


class IdempotencyCache:
    """Recent Idempotency-Key answers, so a retry gets the same receipt.

    Correctness does not rest on it: the key becomes the source id, and the
    CRM store's unique (channel, source_id) absorbs a retry this cache forgot.
    """

    def __init__(self, size: int = 100_000) -> None:
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._size = size

    def get(self, key: str) -> dict[str, Any] | None:
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
        return hit

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._items[key] = value
        if len(self._items) > self._size:
            self._items.popitem(last=False)


def _errors(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "error": mask_text(e["msg"])}
        for e in exc.errors()
    ]


def create_app(
    publish: Publish,
    *,
    topic: str,
    hash_key: str,
    max_body_bytes: int,
    health: Callable[[], dict[str, Any]],
) -> Starlette:
    idem = IdempotencyCache()

    async def post_feedback(request: Request) -> Response:
        MESSAGES_IN.labels(STAGE).inc()
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body_bytes:
            ERRORS.labels(STAGE, "too_large").inc()
            return JSONResponse({"error": "payload too large", "limit_bytes": max_body_bytes}, 413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                ERRORS.labels(STAGE, "too_large").inc()
                return JSONResponse({"error": "payload too large", "limit_bytes": max_body_bytes}, 413)
        try:
            data = await _parse_body(request, body)
        except ValueError as exc:
            ERRORS.labels(STAGE, "bad_request").inc()
            return JSONResponse({"error": "invalid body", "detail": str(exc)}, 400)
        try:
            form = WebFeedback.model_validate(data)
        except ValidationError as exc:
            ERRORS.labels(STAGE, "invalid").inc()
            return JSONResponse({"error": "invalid feedback", "fields": _errors(exc)}, 400)

        key = request.headers.get("idempotency-key", "").strip()
        if key:
            if len(key) > 200:
                return JSONResponse({"error": "Idempotency-Key longer than 200 characters"}, 400)
            seen = idem.get(key)
            if seen is not None:
                return JSONResponse(seen, 202)
            source_id = "idem-" + hashlib.sha256(key.encode()).hexdigest()[:32]
        else:
            source_id = "web-" + uuid.uuid4().hex
        if form.website:
            # Honeypot filled: answer like a success so bots learn nothing; no ticket.
            ERRORS.labels(STAGE, "honeypot").inc()
            return JSONResponse({"status": "accepted", "receipt_id": source_id}, 202)

        item = form.to_received(source_id, datetime.now(UTC), request.headers.get("origin"))
        try:
            await run_in_threadpool(publish, topic, _partition_key(item, hash_key), item.model_dump_json().encode())
        except TransportError as exc:
            ERRORS.labels(STAGE, "TransportError").inc()
            log.warning("kafka write not acknowledged", extra={"error": str(exc)})
            return JSONResponse({"error": "temporarily unavailable, please retry"}, 503, headers={"Retry-After": "5"})
        MESSAGES_OUT.labels(STAGE, topic).inc()
        answer = {"status": "accepted", "receipt_id": source_id}
        if key:
            idem.put(key, answer)
        return JSONResponse(answer, 202)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        doc = await run_in_threadpool(health)
        return JSONResponse(doc, 200 if doc.get("ok") else 503)

    async def on_error(request: Request, exc: Exception) -> Response:
        ERRORS.labels(STAGE, "unexpected").inc()
        log.exception("unexpected error")
        return JSONResponse({"error": "temporarily unavailable, please retry"}, 503)

    return Starlette(
        routes=[
            Route("/v1/feedback", post_feedback, methods=["POST"]),
            Route("/metrics", metrics),
            Route("/healthz", healthz),
        ],
        exception_handlers={Exception: on_error},
    )


def _partition_key(item: FeedbackReceived, hash_key: str) -> bytes:
    """Same customer -> same partition, so one triage worker sees all their items."""
    c = item.customer
    ck = customer_key(hash_key, phone=c.phone, email=c.email, account=c.account)
    return (ck or item.source_key).encode()


async def _parse_body(request: Request, body: bytes) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        from urllib.parse import parse_qsl

        if ctype == "multipart/form-data":
            raise ValueError("multipart/form-data is not accepted; post JSON or urlencoded")
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=False, strict_parsing=False)
        except UnicodeDecodeError as exc:
            raise ValueError("body is not UTF-8") from exc
        data: dict[str, Any] = {k: v for k, v in pairs}
        if data.get("nps") == "":
            data.pop("nps")
        return data
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"body is not valid UTF-8 JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data
