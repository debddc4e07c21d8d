"""Building dead-letter records: the original bytes kept, the reason masked."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from core.privacy import mask_text
from models import DeadLetter


def dead_letter(
    stage: str,
    exc: BaseException,
    payload: bytes,
    *,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
) -> DeadLetter:
    # Validation messages quote the input; mask before it leaves the process.
    return DeadLetter(
        stage=stage,
        error_type=type(exc).__name__,
        error=mask_text(str(exc))[:2000],
        payload_b64=base64.b64encode(payload).decode(),
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        failed_at=datetime.now(UTC),
    )
