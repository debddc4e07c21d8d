"""The ticket API (``tingjian api``): REST + JSON over the ticket desk, bearer
tokens with roles and departments, documented at ``/openapi.json``."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from core.asgi import Measured
from core.errors import (
    AccessDenied,
    Conflict,
    InvalidTransition,
    NotFound,
    StoreError,
)
from core.metrics import ERRORS, Stage
from core.ratelimit import RateLimiter
from crm.api.openapi import OPENAPI
from crm.auth import Principal
from crm.store import Filters, TicketDesk

log = logging.getLogger(__name__)
_CONSOLE_HTML = Path(__file__).parent / "static" / "console.html"
STAGE: Stage = "crm_api"


@dataclass(frozen=True)
class ApiOptions:
    max_body_bytes: int = 65_536
    rate_limit_per_minute: int = 600


class BadRequest(ValueError):
    pass


Handler = Callable[[Request, Principal], Awaitable[Any]]


def create_app(
    desk: TicketDesk,
    opts: ApiOptions,
    health: Callable[[], dict[str, Any]],
    extra_routes: list[Route] | None = None,
) -> Starlette:
    limiter = RateLimiter(opts.rate_limit_per_minute)

    def authed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            auth = request.headers.get("authorization", "")
            scheme, _, token = auth.partition(" ")
            client = token or (request.client.host if request.client else "unknown")
            ok, wait = limiter.allow(client[-24:])
            if not ok:
                ERRORS.labels(STAGE, "rate_limited").inc()
                return JSONResponse(
                    {"error": "too many requests"},
                    429,
                    headers={"Retry-After": str(max(1, int(wait + 0.999)))},
                )
            who = (
                await run_in_threadpool(desk.principal, token.strip())
                if scheme.lower() == "bearer" and token.strip()
                else None
            )
            if who is None:
                return JSONResponse(
                    {"error": "a valid bearer token is required"},
                    401,
                    headers={"WWW-Authenticate": 'Bearer realm="tingjian"'},
                )
            try:
                result = await handler(request, who)
            except BadRequest as exc:
                return JSONResponse({"error": str(exc)}, 400)
            except AccessDenied as exc:
                return JSONResponse({"error": str(exc)}, 403)
            except NotFound as exc:
                return JSONResponse({"error": str(exc)}, 404)
            except InvalidTransition as exc:
                return JSONResponse({"error": str(exc), "allowed": list(exc.allowed)}, 409)
            except Conflict as exc:
                return JSONResponse({"error": str(exc)}, 409)
            except StoreError:
                ERRORS.labels(STAGE, "StoreError").inc()
                log.warning("store unavailable", extra={"actor": who.actor})
                return JSONResponse({"error": "temporarily unavailable, please retry"}, 503)
            log.info(
                "api call",
                extra={"actor": who.actor, "method": request.method, "route": _route(request)},
            )
            return JSONResponse(json.loads(json.dumps(result, default=str, ensure_ascii=False)))

        return endpoint

    async def body(request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > opts.max_body_bytes:
            raise _TooLarge
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > opts.max_body_bytes:
                raise _TooLarge
        try:
            data = json.loads(raw.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise BadRequest(f"body is not valid UTF-8 JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise BadRequest("body must be a JSON object")
        return data

    def version_of(request: Request, data: dict[str, Any]) -> int | None:
        raw = request.headers.get("if-match") or data.get("version")
        if raw is None:
            return None
        try:
            return int(str(raw).strip('"'))
        except ValueError as exc:
            raise BadRequest("If-Match / version must be the ticket's version number") from exc

    def text(
        data: dict[str, Any], key: str, *, required: bool = False, limit: int = 4000
    ) -> str | None:
        v = data.get(key)
        if v is None or v == "":
            if required:
                raise BadRequest(f"{key} is required")
            return None
        if not isinstance(v, str) or len(v) > limit:
            raise BadRequest(f"{key} must be a string of at most {limit} characters")
        return v

    async def list_tickets(request: Request, who: Principal) -> Any:
        q = request.query_params

        def flag(name: str) -> bool | None:
            v = q.get(name)
            if v is None or v == "":
                return None
            if v.lower() not in ("true", "false", "1", "0"):
                raise BadRequest(f"{name} must be true or false")
            return v.lower() in ("true", "1")

        try:
            limit = min(200, max(1, int(q.get("limit", "50"))))
            cursor = int(q["cursor"]) if q.get("cursor") else None
        except ValueError as exc:
            raise BadRequest("limit and cursor are integers") from exc
        f = Filters(
            department=q.get("department") or None,
            state=q.get("state") or None,
            priority=q.get("priority") or None,
            needs_review=flag("needs_review"),
            overdue=flag("overdue"),
            q=(q.get("q") or None),
            limit=limit + 1,
            cursor=cursor,
            order="urgency" if q.get("order") == "urgency" else "newest",
        )
        rows = await run_in_threadpool(desk.list_tickets, who, f)
        page, more = rows[:limit], len(rows) > limit
        paged = more and page and f.order == "newest"
        return {"tickets": page, "next_cursor": page[-1]["cursor"] if paged else None}

    async def get_ticket(request: Request, who: Principal) -> Any:
        return await run_in_threadpool(desk.get_ticket, who, request.path_params["no"])

    async def transition(request: Request, who: Principal) -> Any:
        data = await body(request)
        to = text(data, "to", required=True)
        assert to is not None
        return await run_in_threadpool(
            lambda: desk.transition(
                who,
                request.path_params["no"],
                to,
                note=text(data, "note"),
                assignee=text(data, "assignee", limit=100),
                solution=text(data, "solution"),
                department=text(data, "department", limit=100),
                version=version_of(request, data),
            )
        )

    async def satisfaction(request: Request, who: Principal) -> Any:
        data = await body(request)
        rating = text(data, "rating", required=True)
        assert rating is not None
        return await run_in_threadpool(
            lambda: desk.satisfaction(
                who,
                request.path_params["no"],
                rating,
                text(data, "comment"),
                version_of(request, data),
            )
        )

    async def labels(request: Request, who: Principal) -> Any:
        data = await body(request)
        version = version_of(request, data)
        changes = {k: v for k, v in data.items() if k != "version"}
        return await run_in_threadpool(
            lambda: desk.correct_labels(who, request.path_params["no"], changes, version)
        )

    async def notes(request: Request, who: Principal) -> Any:
        data = await body(request)
        note = text(data, "note", required=True)
        assert note is not None
        return await run_in_threadpool(
            lambda: desk.add_note(who, request.path_params["no"], note, version_of(request, data))
        )

    async def unmerge(request: Request, who: Principal) -> Any:
        data = await body(request)
        reason = text(data, "reason", required=True)
        assert reason is not None
        p = request.path_params
        return await run_in_threadpool(
            lambda: desk.unmerge(who, p["no"], p["channel"], p["source_id"], reason)
        )

    async def console(request: Request) -> Response:
        # The page holds no data: it signs in with a token and calls the API.
        return HTMLResponse(_CONSOLE_HTML.read_text(encoding="utf-8"))

    async def openapi(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        doc = await run_in_threadpool(health)
        return JSONResponse(doc, 200 if doc.get("ok") else 503)

    async def too_large(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "payload too large", "limit_bytes": opts.max_body_bytes}, 413)

    async def on_error(request: Request, exc: Exception) -> Response:
        ERRORS.labels(STAGE, "unexpected").inc()
        log.exception("unexpected error")
        return JSONResponse({"error": "temporarily unavailable, please retry"}, 503)

    routes = [
        Route("/v1/tickets", authed(list_tickets), methods=["GET"]),
        Route("/v1/tickets/{no}", authed(get_ticket), methods=["GET"]),
        Route("/v1/tickets/{no}/transition", authed(transition), methods=["POST"]),
        Route("/v1/tickets/{no}/satisfaction", authed(satisfaction), methods=["POST"]),
        Route("/v1/tickets/{no}/labels", authed(labels), methods=["POST"]),
        Route("/v1/tickets/{no}/notes", authed(notes), methods=["POST"]),
        Route(
            "/v1/tickets/{no}/feedback/{channel}/{source_id}/unmerge",
            authed(unmerge),
            methods=["POST"],
        ),
        Route("/openapi.json", openapi),
        Route("/console", console),
        Route("/metrics", metrics),
        Route("/healthz", healthz),
        *(extra_routes or []),
    ]
    return Starlette(
        routes=routes,
        exception_handlers={_TooLarge: too_large, Exception: on_error},
        middleware=[
            Middleware(
                Measured,
                stage=STAGE,
                routes=(
                    "/v1/tickets",
                    "/v1/tickets/",
                    "/openapi.json",
                    "/metrics",
                    "/healthz",
                    "/console",
                ),
            )
        ],
    )


class _TooLarge(Exception):
    pass


def _route(request: Request) -> str:
    path = request.url.path
    return "/v1/tickets/{no}" + path.rsplit("/", 1)[-1] if path.count("/") > 3 else path
