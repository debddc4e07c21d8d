"""Progress of long work on stderr: a bar redrawn in place on a terminal,
one plain line a step otherwise (CI logs, pipes)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, what: str, total: int, out: TextIO | None = None) -> None:
        self._what = what
        self._total = max(1, total)
        self._out = out or sys.stderr
        self._tty = self._out.isatty()
        self._done = 0
        self._t0 = time.monotonic()

    def step(self, note: str) -> None:
        self._done = min(self._total, self._done + 1)
        elapsed = time.monotonic() - self._t0
        if self._tty:
            width = 24
            full = width * self._done // self._total
            bar = "█" * full + "░" * (width - full)
            end = "\n" if self._done == self._total else ""
            self._out.write(
                f"\r\x1b[K{self._what} {bar} {self._done}/{self._total} {elapsed:5.1f}s {note}{end}"
            )
        else:
            self._out.write(
                f"{self._what}: step {self._done}/{self._total} ({elapsed:.1f}s) {note}\n"
            )
        self._out.flush()
