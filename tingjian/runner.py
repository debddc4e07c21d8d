"""The one generic runner: signals, the ops server (/metrics, /healthz), exit codes.

Every always-on service is built by its module in ``tingjian/services/`` as a
``Service`` and run here, so that SIGTERM, health and exit codes behave the
same everywhere.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any, Protocol

import uvicorn

from core.http_protocol import HeadTimeoutH11Protocol
from core.ops import OpsServer

log = logging.getLogger(__name__)


class Service(Protocol):
    name: str
    # Where /metrics and /healthz are served; None: the service serves them itself.
    metrics_port: int | None

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; finish the batch in hand, then return."""

    def health(self) -> dict[str, Any]:
        """``{"ok": bool, ...}``; ok False answers /healthz with 503."""

    def close(self) -> None:
        """Release connections; called once, after run returned or failed."""


def stop_on_signals() -> threading.Event:
    """SIGTERM/SIGINT set an event: loops finish their batch, commit and return."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def run(service: Service, metrics_host: str) -> int:
    """Run a service to its end; 0 after a clean stop. Our errors propagate to
    the CLI, which prints one line and exits 1 (2 for configuration)."""
    stop = stop_on_signals()
    ops = (
        OpsServer(metrics_host, service.metrics_port, service.health).start()
        if service.metrics_port is not None
        else None
    )
    log.info(f"{service.name} started", extra={"metrics_port": ops.port if ops else None})
    try:
        service.run(stop)
    finally:
        service.close()
        if ops is not None:
            ops.stop()
    return 0


class UvicornServer(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its graceful shutdown, so the process
    would die of the signal; a drained shutdown is a clean exit (code 0)."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True  # not recorded: nothing is re-raised afterwards


def serve(app: Any, host: str, port: int, stop: threading.Event) -> None:
    """Serve an ASGI app with uvicorn until SIGTERM/SIGINT or ``stop``."""
    server = UvicornServer(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,  # our JSON logging, not uvicorn's
            access_log=False,
            timeout_graceful_shutdown=8,
            http=HeadTimeoutH11Protocol,  # a request head that never ends is closed
        )
    )

    # uvicorn takes SIGTERM/SIGINT while it serves; a stop from elsewhere ends it too.
    def stop_server() -> None:
        stop.wait()
        server.should_exit = True

    threading.Thread(target=stop_server, daemon=True).start()
    server.run()
