"""``tingjian api``: the ticket API and the agents' console, served by uvicorn
like the web connector; ``tingjian api token create`` makes a bearer token."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from config import Settings
from core.pg import ping
from core.store.schema import require_schema
from crm.api.app import ApiOptions, create_app
from crm.store import TicketDesk
from tingjian.runner import serve


@dataclass
class ApiService:
    settings: Settings
    desk: TicketDesk
    host: str
    port: int
    name: str = "ticket api"
    metrics_port: int | None = None  # served by the app itself

    def health(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"postgres": ping(self.settings.postgres.dsn)}
        doc["ok"] = all(doc.values())
        return doc

    def run(self, stop: threading.Event) -> None:
        a = self.settings.api
        app = create_app(
            self.desk,
            ApiOptions(
                max_body_bytes=a.max_body_bytes, rate_limit_per_minute=a.rate_limit_per_minute
            ),
            self.health,
        )
        serve(app, self.host, self.port, stop)

    def close(self) -> None:
        self.desk.close()


def build(settings: Settings, host: str | None = None, port: int | None = None) -> ApiService:
    require_schema(settings.postgres.dsn, "CRM store")
    return ApiService(
        settings=settings,
        desk=TicketDesk(
            settings.postgres.dsn,
            settings.business.ticket_number_format,
            ZoneInfo(settings.business.timezone),
        ),
        host=host or settings.api.host,
        port=settings.api.port if port is None else port,
    )


def create_token(settings: Settings, name: str, role: str, department: str | None) -> int:
    require_schema(settings.postgres.dsn, "CRM store")
    desk = TicketDesk(settings.postgres.dsn)
    try:
        token = desk.create_token(name, role, department)  # type: ignore[arg-type]
    finally:
        desk.close()
    print(token)
    return 0
