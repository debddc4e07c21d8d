"""Report periods: an ISO week (2026-W48) or a month (2026-11), in the business
time zone, with the period before it. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from core.errors import ConfigError

Kind = Literal["weekly", "monthly"]
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Period:
    kind: Kind
    label: str
    start: datetime  # inclusive, aware
    end: datetime  # exclusive
    prev_label: str
    prev_start: datetime


def _month_label(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _week_label(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y:04d}-W{w:02d}"


def parse_period(kind: Kind, text: str | None, tz: str, today: date) -> Period:
    """``text`` None: the last complete period before ``today``."""
    zone = ZoneInfo(tz)
    if kind == "weekly":
        if text is None:
            monday = today - timedelta(days=today.weekday() + 7)
        else:
            m = _WEEK.match(text)
            if not m:
                raise ConfigError(f"weekly period must look like 2026-W48, not {text!r}")
            try:
                monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
            except ValueError as exc:
                raise ConfigError(f"no such week {text!r}") from exc
        prev = monday - timedelta(days=7)
        nxt = monday + timedelta(days=7)
        return Period(
            kind,
            _week_label(monday),
            datetime.combine(monday, datetime.min.time(), zone),
            datetime.combine(nxt, datetime.min.time(), zone),
            _week_label(prev),
            datetime.combine(prev, datetime.min.time(), zone),
        )
    if text is None:
        first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    else:
        m = _MONTH.match(text)
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ConfigError(f"monthly period must look like 2026-11, not {text!r}")
        first = date(int(m.group(1)), int(m.group(2)), 1)
    prev = (first - timedelta(days=1)).replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return Period(
        kind,
        _month_label(first),
        datetime.combine(first, datetime.min.time(), zone),
        datetime.combine(nxt, datetime.min.time(), zone),
        _month_label(prev),
        datetime.combine(prev, datetime.min.time(), zone),
    )
