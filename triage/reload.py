"""Promoting a new model without stopping the stream: the triage stage checks
the bundle file between batches and swaps in a new one that verifies; a bundle
that does not verify is refused and the running model keeps serving."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from core.errors import ModelError
from triage.engine import TriageEngine

log = logging.getLogger(__name__)


class ModelWatcher:
    def __init__(self, engine: TriageEngine, path: str | None, every_s: float = 5.0) -> None:
        self._engine = engine
        self._path = Path(path) if path else None
        self._every = every_s
        self._next = time.monotonic() + every_s
        self._stamp = self._mtime()
        self.refused: str | None = None

    def _mtime(self) -> float | None:
        try:
            return os.stat(self._path).st_mtime_ns if self._path else None
        except OSError:
            return None

    def maybe_reload(self) -> bool:
        if self._path is None or time.monotonic() < self._next:
            return False
        self._next = time.monotonic() + self._every
        stamp = self._mtime()
        if stamp is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        from triage.bundle import load_bundle

        try:
            bundle = load_bundle(self._path)
        except ModelError as exc:
            self.refused = str(exc)
            log.error("new model refused; keeping the running one", extra={"error": str(exc)})
            return False
        old = self._engine.classifier.version
        self._engine.classifier = bundle
        self._engine.keywords = bundle.keywords
        self.refused = None
        log.info("model promoted", extra={"from": old, "to": bundle.version})
        return True
