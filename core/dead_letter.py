"""Building dead-letter records: the original bytes kept, the reason masked.

A dead letter must always fit in a Kafka message (default limit 1 MB), or the
record that caused it would stop its partition forever: the payload is capped
at ``MAX_PAYLOAD_BYTES`` and the original's size and sha256 are kept beside it,
with the source topic, partition and offset pointing at the whole record.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from pydantic import ValidationError

from core.privacy import mask_text
from models import DeadLetter

# base64 grows 4/3: 512 KiB of payload is ~700 KB on the wire, well under 1 MB.
MAX_PAYLOAD_BYTES = 512 * 1024


def dead_letter(
    stage: str,
    exc: BaseException,
    payload: bytes,
    *,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    max_payload_bytes: int = MAX_PAYLOAD_BYTES,
) -> DeadLetter:
    kept = payload[:max_payload_bytes]
    # Validation messages quote the input; mask before it leaves the process.
    return DeadLetter(
        stage=stage,
        error_type=type(exc).__name__,
        error=mask_text(describe(exc))[:2000],
        payload_b64=base64.b64encode(kept).decode(),
        payload_bytes=len(payload),
        payload_sha256=hashlib.sha256(payload).hexdigest(),
        truncated=len(kept) < len(payload),
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        failed_at=datetime.now(UTC),
    )


def describe(exc: BaseException) -> str:
    """The reason, without the input: pydantic's message quotes the record
    (an account id has no shape a masker could find)."""
    if isinstance(exc, ValidationError):
        errs = exc.errors(include_input=False, include_url=False)
        where = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in errs)
        return f"{exc.error_count()} validation errors for {exc.title}: {where}"
    return str(exc)
