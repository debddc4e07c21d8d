"""What a report is computed from: one row per ticket of a period, and the
weekly counts of the trend window. Plain records, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class TicketRow:
    submitted_at: datetime
    type: str
    topics: tuple[str, ...]
    channel: str
    priority: str
    department: str
    segment: str | None
    sentiment: str
    summary: str
    handling_hours: float | None  # 处理时长: submission to resolution, None while open
    satisfaction: str | None
    needs_review: bool
    reopened: bool
    corrected: bool
    breaches: frozenset[str] = field(
        default_factory=frozenset
    )  # acknowledge, first_response, resolve
    incident: bool = False


@dataclass(frozen=True)
class WeekCount:
    week: date  # the Monday, business time zone
    type: str
    tickets: int
    satisfied: int  # 满意
    fairly: int  # 基本满意
    unsatisfied: int  # 不满意


@dataclass(frozen=True)
class StoreData:
    current: list[TicketRow]
    previous: list[TicketRow]
    weeks: list[WeekCount]
    incidents: int | None  # rows of the incidents table in the period; None: no such table
