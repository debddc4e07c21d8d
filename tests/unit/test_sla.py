from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from config import load_business_rules, load_settings
from triage.sla import add_working_days, compute_sla

TZ = ZoneInfo("Asia/Shanghai")
RULES = load_business_rules(load_settings().business)


def t(*a: int) -> datetime:
    return datetime(*a, tzinfo=TZ)


def test_weekend_and_holiday_are_skipped_makeup_day_counts() -> None:
    cal = RULES.calendar
    assert not cal.is_working_day(t(2026, 10, 3).date())  # 国庆
    assert cal.is_working_day(t(2026, 10, 10).date())  # Saturday make-up day
    assert not cal.is_working_day(t(2026, 11, 22).date())  # plain Sunday


def test_three_working_days_over_national_day() -> None:
    # Wed 30 Sep 2026, 15:00 -> Oct 1-7 holiday, Oct 8 (Thu), 9 (Fri), 10 (Sat, 调休)
    due = add_working_days(t(2026, 9, 30, 15), 3, RULES.calendar, RULES.sla)
    assert due == t(2026, 10, 10, 15)


def test_received_on_holiday_starts_next_working_morning() -> None:
    due = add_working_days(t(2026, 10, 2, 20), 1, RULES.calendar, RULES.sla)
    assert due == t(2026, 10, 9, 9)


@pytest.mark.parametrize(
    ("prio", "ack", "first", "resolve"),
    [
        ("P1", t(2026, 11, 20, 11), t(2026, 11, 20, 12), t(2026, 11, 21, 10)),
        ("P2", t(2026, 11, 20, 12), t(2026, 11, 21, 10), t(2026, 11, 25, 10)),
        ("P3", t(2026, 11, 20, 12), t(2026, 11, 25, 10), t(2026, 12, 1, 10)),
        ("P4", t(2026, 11, 20, 12), None, None),
    ],
)
def test_sla_table(
    prio: str, ack: datetime, first: datetime | None, resolve: datetime | None
) -> None:
    due = compute_sla(t(2026, 11, 20, 10), prio, RULES.sla, RULES.calendar, TZ)  # a Friday
    assert due.acknowledge_by == ack
    assert due.first_response_by == first
    assert due.resolve_by == resolve
    assert (due.queue == "需求池") == (prio == "P4")
