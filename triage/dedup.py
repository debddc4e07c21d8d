"""Duplicate detection (SPEC §9). Filled in by the triage NLP work."""

from __future__ import annotations

from typing import Any


def build_deduplicator(settings: Any) -> None:
    return None
