"""Spreadsheet rows -> FeedbackReceived. Pure: reading files is elsewhere."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError

from core.errors import ContractError
from models import Customer, FeedbackReceived


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str = "import"
    text: str
    id: str | None = None
    subject: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    account: str | None = None
    received_at: str | None = None
    nps: str | None = None
    satisfaction: str | None = None


class RowError(ContractError):
    pass


_CN_DATE = re.compile(
    r"^\s*(\d{4})\s*[年/\-.]\s*(\d{1,2})\s*[月/\-.]\s*(\d{1,2})\s*日?"
    r"(?:\s*(\d{1,2})\s*[:：时点]\s*(\d{1,2})\s*分?(?:\s*[:：]?\s*(\d{1,2})\s*秒?)?)?\s*$"
)
_EXCEL_EPOCH = datetime(1899, 12, 30)


def parse_when(value: Any, tz: ZoneInfo) -> datetime:
    """Chinese spreadsheet dates: 2023/10/1 14:30, 2023年10月1日, 2023-10-01 14:30:00,
    2023.10.1, Excel serials and cells already typed as dates. Naive times are local."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, time())
    elif isinstance(value, int | float) and 20000 < float(value) < 80000:
        dt = _EXCEL_EPOCH + timedelta(days=float(value))
    else:
        s = str(value).strip()
        m = _CN_DATE.match(s)
        if m:
            y, mo, d, hh, mm, ss = (int(x) if x else 0 for x in m.groups())
            try:
                dt = datetime(y, mo, d, hh, mm, ss)
            except ValueError as exc:
                raise RowError(f"invalid date {s!r}: {exc}") from exc
        else:
            try:
                dt = datetime.fromisoformat(s)
            except ValueError as exc:
                raise RowError(
                    f"unrecognised date {s!r} (expected e.g. 2023/10/1 14:30 or 2023年10月1日)"
                ) from exc
    return dt.replace(tzinfo=tz) if dt.tzinfo is None else dt


def _cell(row: dict[str, Any], column: str | None) -> str | None:
    if not column:
        return None
    v = row.get(column)
    if v is None:
        return None
    s = str(v).strip()
    if isinstance(v, float) and v.is_integer():
        s = str(int(v))  # Excel stores 13812345678 as 13812345678.0
    return s or None


@dataclass(frozen=True)
class RowResult:
    item: FeedbackReceived


def build_item(row: dict[str, Any], m: Mapping, tz: ZoneInfo, now: datetime) -> FeedbackReceived:
    if m.text not in row:
        raise RowError(f"column {m.text!r} is missing")
    text = _cell(row, m.text)
    if not text:
        raise RowError(f"empty {m.text!r}")
    raw_when = row.get(m.received_at) if m.received_at else None
    when = parse_when(raw_when, tz) if raw_when not in (None, "") else now
    meta: dict[str, str] = {}
    nps = _cell(row, m.nps)
    if nps is not None:
        try:
            score = float(nps)
        except ValueError as exc:
            raise RowError(f"NPS {nps!r} is not a number") from exc
        if not 0 <= score <= 10:
            raise RowError(f"NPS {nps!r} is outside 0-10")
        meta["nps"] = f"{score:g}"
    sat = _cell(row, m.satisfaction)
    if sat:
        meta["satisfaction"] = sat
    ident = _cell(row, m.id)
    mapped = [
        m.channel,
        text,
        _cell(row, m.name) or "",
        _cell(row, m.phone) or "",
        _cell(row, m.email) or "",
        when.isoformat(),
    ]
    # Stable across re-imports of the same data: the source's own id, or the row's content.
    source_id = (
        f"id:{ident}"
        if ident
        else "row:" + hashlib.sha256("\x1f".join(mapped).encode()).hexdigest()[:32]
    )
    try:
        return FeedbackReceived(
            channel=m.channel,  # type: ignore[arg-type]
            source_id=source_id,
            received_at=when,
            subject=_cell(row, m.subject),
            text=text,
            customer=Customer(
                name=_cell(row, m.name),
                phone=_cell(row, m.phone),
                email=_cell(row, m.email),
                account=_cell(row, m.account),
            ),
            metadata=meta,
        )
    except ValidationError as exc:
        e = exc.errors()[0]
        raise RowError(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}") from exc
