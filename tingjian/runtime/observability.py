"""Metrics (named by a spec: ``tingjian_*``, ``*_total`` counters, bounded labels)
and a tiny HTTP server for ``/metrics`` and ``/healthz``."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

# Labels: stage is one of a handful of service names; topic is one of the four
# pipeline topics; error_type is an exception class name from our own tree or
# a contract failure kind: all bounded.
MESSAGES_IN = Counter("tingjian_messages_in_total", "Messages consumed or received", ["stage"])
MESSAGES_OUT = Counter(
    "tingjian_messages_out_total", "Messages written downstream", ["stage", "topic"]
)
ERRORS = Counter("tingjian_errors_total", "Errors by type", ["stage", "error_type"])
BATCH_SECONDS = Histogram(
    "tingjian_batch_seconds",
    "Time to process one batch, from poll to commit",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge(
    "tingjian_consumer_lag", "Messages not yet consumed, summed over partitions", ["stage"]
)
TICKETS = Counter("tingjian_tickets_total", "Tickets written to the CRM store", ["outcome"])
QUARANTINED = Counter("tingjian_quarantined_total", "Items quarantined", ["reason"])
# connector: web, email, social:<source>, import; outcome: a fixed vocabulary
# (received, produced, duplicate, auto_reply, bounce, rejected_<reason>).
INGEST_ITEMS = Counter(
    "tingjian_ingest_items_total", "Items seen by connectors", ["connector", "outcome"]
)
DEAD_LETTERS = Counter("tingjian_dead_letters_total", "Items sent to the DLQ", ["stage"])

HealthFn = Callable[[], dict[str, Any]]


def _handler(health: HealthFn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                body, ctype, code = generate_latest(), CONTENT_TYPE_LATEST, 200
            elif self.path == "/healthz":
                doc = health()
                code = 200 if doc.get("ok") else 503
                body, ctype = json.dumps(doc).encode(), "application/json"
            else:
                body, ctype, code = b"not found\n", "text/plain", 404
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes every few seconds would drown the service log

    return Handler


class OpsServer:
    """Serves /metrics and /healthz from a daemon thread."""

    def __init__(self, host: str, port: int, health: HealthFn) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler(health))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> OpsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
