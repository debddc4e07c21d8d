"""The web connector as an ASGI app (Starlette, served by uvicorn).

202 only after Kafka acknowledged the write; 400 with per-field errors (field
names and messages masked: never a phone, email or account echoed); 408 when the
body does not arrive within ``body_timeout_s``; 413 over the size limit; 415 for
a content type other than JSON or a urlencoded form; 503 when Kafka does not
acknowledge. Never a 500 for any input. Every post is counted in
``tingjian_ingest_items_total`` (received, produced, duplicate, rejected_<reason>).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from core.asgi import Measured
from core.errors import ContractError, IdempotencyConflict, StoreError, TransportError
from core.metrics import ERRORS, INGEST_ITEMS, MESSAGES_OUT, Stage
from core.privacy import mask_account, mask_text, partition_key
from core.ratelimit import RateLimiter
from ingest.web.schema import WebFeedback

log = logging.getLogger(__name__)
STAGE: Stage = "ingest_web"
CONNECTOR = "web"
_FORM_HTML = Path(__file__).parent / "static" / "form.html"

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


_FIELDS = frozenset(WebFeedback.model_fields)
# A token that could be an account id or a phone in another shape: 4+ digits in a word.
_ACCOUNTISH = re.compile(r"[A-Za-z0-9_.-]*\d[A-Za-z0-9_.-]*")


def _masked(text: str) -> str:
    """What a 400 may say about client input: contacts and account-like ids masked."""
    text = mask_text(text[:120])
    return _ACCOUNTISH.sub(
        lambda m: (
            mask_account(m.group()) if sum(c.isdigit() for c in m.group()) >= 4 else m.group()
        ),
        text,
    )


def _errors(exc: ValidationError) -> list[dict[str, str]]:
    out = []
    for e in exc.errors():
        # An unknown key is client input too: {"13812345678": 1} must not come back as is.
        loc = ".".join(str(p) if p in _FIELDS else _masked(str(p)) for p in e["loc"])
        out.append({"field": loc or "body", "error": _masked(e["msg"])})
    return out


class _Rejected(ContractError):
    """A post refused before validation: (status, reason label, message)."""

    def __init__(self, status: int, reason: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.status, self.reason, self.detail = status, reason, detail


@dataclass(frozen=True)
class WebOptions:
    topic: str
    hash_key: str
    max_body_bytes: int
    # A body that has not fully arrived by then is answered 408: no connection is held for ever.
    body_timeout_s: float = 10.0
    allowed_origins: tuple[str, ...] = ()
    rate_limit_per_minute: int = 600
    # Set only behind a reverse proxy that sets it: otherwise clients could pick their key.
    trusted_proxy_header: str | None = None
    # Gives the customer a 反馈编号 before the sink runs (None: receipt id only).
    # (received_at, source_key, body sha256 or None) -> 反馈编号; IdempotencyConflict
    # when the source key already has a number for another body.
    allocate_number: Callable[[datetime, str, str | None], str] | None = None


def _conflict() -> Response:
    ERRORS.labels(STAGE, "idempotency_conflict").inc()
    INGEST_ITEMS.labels(CONNECTOR, "rejected_idempotency_conflict").inc()
    return JSONResponse(
        {"error": "Idempotency-Key already used for a different submission; use a new key"}, 422
    )


def _client(request: Request, proxy_header: str | None) -> str:
    """Who the rate limit counts: the peer, or behind a trusted reverse proxy
    the first address of its header (X-Forwarded-For: client, proxy1, ...)."""
    if proxy_header:
        forwarded = request.headers.get(proxy_header, "").split(",")[0].strip()
        if forwarded:
            return forwarded[:64]
    return request.client.host if request.client else "unknown"


def create_app(
    publish: Publish, opts: WebOptions, health: Callable[[], dict[str, Any]]
) -> Starlette:
    idem = IdempotencyCache()
    limiter = RateLimiter(opts.rate_limit_per_minute)
    max_body_bytes, topic, hash_key = opts.max_body_bytes, opts.topic, opts.hash_key

    def origin_allowed(request: Request) -> bool:
        # No Origin: not a browser (server-to-server, curl). Same origin: our /form.
        origin = request.headers.get("origin")
        if origin is None:
            return True
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        return origin == own or origin in opts.allowed_origins

    def cors(request: Request) -> dict[str, str]:
        origin = request.headers.get("origin")
        if origin and origin in opts.allowed_origins:
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {}

    async def preflight(request: Request) -> Response:
        if not origin_allowed(request):
            return JSONResponse({"error": "origin not allowed"}, 403)
        headers = {
            **cors(request),
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type, Idempotency-Key",
            "Access-Control-Max-Age": "600",
        }
        return Response(status_code=204, headers=headers)

    async def post_feedback(request: Request) -> Response:
        INGEST_ITEMS.labels(CONNECTOR, "received").inc()
        if not origin_allowed(request):
            ERRORS.labels(STAGE, "origin").inc()
            INGEST_ITEMS.labels(CONNECTOR, "rejected_origin").inc()
            return JSONResponse({"error": "origin not allowed"}, 403)
        ok, wait = limiter.allow(_client(request, opts.trusted_proxy_header))
        if not ok:
            ERRORS.labels(STAGE, "rate_limited").inc()
            INGEST_ITEMS.labels(CONNECTOR, "rejected_rate_limited").inc()
            return JSONResponse(
                {"error": "too many requests, please retry later"},
                429,
                headers={"Retry-After": str(max(1, int(wait + 0.999)))},
            )
        try:
            response = await _accept(request)
        except _Rejected as exc:
            ERRORS.labels(STAGE, exc.reason).inc()
            INGEST_ITEMS.labels(CONNECTOR, f"rejected_{exc.reason}").inc()
            doc: dict[str, Any] = {"error": str(exc)}
            if exc.detail:
                doc["detail"] = exc.detail
            if exc.status == 413:
                doc["limit_bytes"] = max_body_bytes
            headers = {"Connection": "close"} if exc.status in (408, 413) else {}
            response = JSONResponse(doc, exc.status, headers=headers)
        except ClientDisconnect:
            # The client went away mid-body: nothing to answer, nothing stored. One line, no trace.
            INGEST_ITEMS.labels(CONNECTOR, "rejected_disconnected").inc()
            log.info("client disconnected before the body was complete")
            return Response(status_code=400)
        response.headers.update(cors(request))
        return response

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_body_bytes:
            raise _Rejected(413, "too_large", "payload too large")
        body = bytearray()
        try:
            async with asyncio.timeout(opts.body_timeout_s):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > max_body_bytes:
                        raise _Rejected(413, "too_large", "payload too large")
        except TimeoutError:
            raise _Rejected(
                408, "timeout", f"body not received within {opts.body_timeout_s:g} s"
            ) from None
        return bytes(body)

    async def _accept(request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in _ACCEPTED_TYPES and not ctype.endswith("+json"):
            raise _Rejected(
                415,
                "unsupported_media_type",
                "Content-Type must be application/json or application/x-www-form-urlencoded",
            )
        body = await read_body(request)
        try:
            data = _parse_body(ctype, body)
        except ValueError as exc:
            raise _Rejected(400, "bad_request", "invalid body", _masked(str(exc))) from exc
        try:
            form = WebFeedback.model_validate(data)
        except ValidationError as exc:
            ERRORS.labels(STAGE, "invalid").inc()
            INGEST_ITEMS.labels(CONNECTOR, "rejected_invalid").inc()
            return JSONResponse({"error": "invalid feedback", "fields": _errors(exc)}, 400)

        key = request.headers.get("idempotency-key", "").strip()
        # What the customer submitted, canonically: a retry may re-encode it.
        body_hash = hashlib.sha256(form.model_dump_json(exclude={"website"}).encode()).hexdigest()
        if key:
            if len(key) > 200:
                INGEST_ITEMS.labels(CONNECTOR, "rejected_bad_request").inc()
                return JSONResponse({"error": "Idempotency-Key longer than 200 characters"}, 400)
            seen = idem.get(key)
            if seen is not None:
                if seen.get("_body") != body_hash:
                    return _conflict()
                INGEST_ITEMS.labels(CONNECTOR, "duplicate").inc()
                return JSONResponse({k: v for k, v in seen.items() if k != "_body"}, 202)
            source_id = "idem-" + hashlib.sha256(key.encode()).hexdigest()[:32]
        else:
            source_id = "web-" + uuid.uuid4().hex
        if form.website:
            # Honeypot filled: answer like a success so bots learn nothing; no ticket.
            ERRORS.labels(STAGE, "honeypot").inc()
            INGEST_ITEMS.labels(CONNECTOR, "rejected_honeypot").inc()
            return JSONResponse({"status": "accepted", "receipt_id": source_id}, 202)

        received_at = datetime.now(UTC)
        try:
            number = (
                await run_in_threadpool(
                    opts.allocate_number,
                    received_at,
                    f"{form.channel}:{source_id}",
                    body_hash if key else None,
                )
                if opts.allocate_number
                else None
            )
            item = form.to_received(source_id, received_at, request.headers.get("origin"), number)
            await run_in_threadpool(
                publish, topic, partition_key(item, hash_key), item.model_dump_json().encode()
            )
        except IdempotencyConflict:
            return _conflict()
        except (TransportError, StoreError) as exc:
            ERRORS.labels(STAGE, type(exc).__name__).inc()
            INGEST_ITEMS.labels(CONNECTOR, "unavailable").inc()
            log.warning("feedback not stored", extra={"error": str(exc)})
            return JSONResponse(
                {"error": "temporarily unavailable, please retry"},
                503,
                headers={"Retry-After": "5"},
            )
        MESSAGES_OUT.labels(STAGE, topic).inc()
        INGEST_ITEMS.labels(CONNECTOR, "produced").inc()
        answer = {"status": "accepted", "receipt_id": source_id, "feedback_no": number}
        if key:
            idem.put(key, {**answer, "_body": body_hash})
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

    async def form_page(request: Request) -> Response:
        return HTMLResponse(_FORM_HTML.read_text(encoding="utf-8"))

    return Starlette(
        routes=[
            Route("/v1/feedback", post_feedback, methods=["POST"]),
            Route("/v1/feedback", preflight, methods=["OPTIONS"]),
            Route("/form", form_page),
            Route("/metrics", metrics),
            Route("/healthz", healthz),
        ],
        exception_handlers={Exception: on_error},
        middleware=[
            Middleware(
                Measured, stage=STAGE, routes=("/v1/feedback", "/form", "/metrics", "/healthz")
            )
        ],
    )


# No Content-Type at all is read as JSON (older API clients); any other type is a 415.
_ACCEPTED_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded", ""})


def _parse_body(ctype: str, body: bytes) -> dict[str, Any]:
    if ctype == "application/x-www-form-urlencoded":
        from urllib.parse import parse_qsl

        try:
            # errors="strict": a broken %-escape is a 400, not a U+FFFD in the ticket.
            pairs = parse_qsl(
                body.decode("utf-8"), keep_blank_values=False, strict_parsing=False, errors="strict"
            )
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
    except RecursionError as exc:  # nesting deeper than any feedback form needs
        raise ValueError("body is nested too deeply") from exc
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data
