"""``tingjian classify``: the stream's triage, run over a JSONL file, no Kafka."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from core.privacy import mask_text
from models import Customer, FeedbackReceived, Quarantined
from models.vocabulary import Channel
from triage.engine import TriageEngine


class InputLine(BaseModel):
    """One line of ``tingjian classify`` input: the shape ``tingjian feed`` posts
    (``text``, ``name``, ``contact``...) or the stream's (``customer{}``); ``id``
    and ``channel`` are optional. Labeled files carry their labels beside the
    input: those are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    channel: Channel = "web_form"
    subject: str | None = None
    text: str
    customer: dict[str, str | None] | None = None
    name: str | None = None
    contact: str | None = None
    phone: str | None = None
    email: str | None = None
    account: str | None = None
    received_at: datetime | None = None

    def to_customer(self) -> Customer:
        given = self.customer or {}
        phone, email = self.phone or given.get("phone"), self.email or given.get("email")
        if self.contact:
            if "@" in self.contact:
                email = email or self.contact
            else:
                phone = phone or self.contact
        return Customer(
            name=self.name or given.get("name"),
            phone=phone,
            email=email,
            account=self.account or given.get("account"),
        )


def _progress(done: int, total: int, out: IO[str]) -> None:
    if not out.isatty() and done % 1000 and done != total:
        return
    width = 30
    filled = int(width * done / total) if total else width
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        out.write("\n")
    out.flush()


def classify_file(
    engine: TriageEngine, src: Path, dst: Path, errors: Path | None = None, chunk: int = 256
) -> dict[str, int]:
    errors = errors or dst.with_name(dst.name + ".errors.jsonl")
    lines = src.read_text(encoding="utf-8").splitlines()
    total = len(lines)
    stats = {"ok": 0, "invalid": 0}
    now = datetime.now(UTC)
    with dst.open("w", encoding="utf-8") as out, errors.open("w", encoding="utf-8") as err:
        pending: list[tuple[str, FeedbackReceived]] = []

        def flush() -> None:
            results = engine.triage_batch([i for _, i in pending], now)
            for (rid, item), res in zip(pending, results, strict=True):
                out.write(json.dumps(_row(rid, item, res), ensure_ascii=False) + "\n")
                stats["ok"] += 1
            pending.clear()

        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                d = InputLine.model_validate_json(line)
                rid = d.id or f"line-{n}"
                item = FeedbackReceived(
                    channel=d.channel,
                    source_id=rid,
                    received_at=d.received_at if d.received_at and d.received_at.tzinfo else now,
                    subject=d.subject,
                    text=d.text,
                    customer=d.to_customer(),
                )
                pending.append((rid, item))
            except ValidationError as exc:
                stats["invalid"] += 1
                detail = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}"
                    for e in exc.errors()
                )
                err.write(
                    json.dumps({"line": n, "error": mask_text(detail)[:500]}, ensure_ascii=False)
                    + "\n"
                )
            if len(pending) >= chunk:
                flush()
            _progress(n, total, sys.stderr)
        if pending:
            flush()
    return stats


def _row(rid: str, item: FeedbackReceived, res: Any) -> dict[str, Any]:
    t = res.triage
    row: dict[str, Any] = {"id": rid}
    if t is not None:
        row.update(
            type=t.type,
            type_confidence=t.type_confidence,
            priority=t.priority,
            priority_confidence=t.priority_confidence,
            sentiment=t.sentiment,
            sentiment_score=t.sentiment_score,
            topics=list(t.topics),
            summary=t.summary,
            keywords=list(t.keywords),
            duplicate_of=t.duplicate_of.partition(":")[2] if t.duplicate_of else None,
            incident=t.incident,
            needs_review=t.needs_review,
            department=t.department,
            sla=t.sla.model_dump(mode="json"),
            model_version=t.model_version,
            escalations=list(t.escalations),
        )
    if isinstance(res, Quarantined):
        # Quarantined: never a ticket; with what triage made of it when it got that far.
        row.update(quarantined=res.reason, detail=res.detail)
        if t is None:
            row.update(
                type=None,
                priority=None,
                duplicate_of=None,
                incident=False,
                needs_review=True,
                department=None,
                sla=None,
                model_version=None,
            )
    return row
