"""SLA due times (SPEC §6) on the configured working-day calendar. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from config.business import Duration, HolidayCalendar, SlaTable
from models import SlaDue


def next_working_start(t: datetime, cal: HolidayCalendar, sla: SlaTable) -> datetime:
    """``t`` itself on a working day; otherwise the start of the next working day."""
    if cal.is_working_day(t.date()):
        return t
    d = t.date() + timedelta(days=1)
    while not cal.is_working_day(d):
        d += timedelta(days=1)
    return datetime.combine(d, sla.business_day_start, tzinfo=t.tzinfo)


def add_working_days(t: datetime, days: int, cal: HolidayCalendar, sla: SlaTable) -> datetime:
    """The same time of day, ``days`` working days later (the clock starts on a
    working day: feedback received on a holiday starts at the next one's open)."""
    start = next_working_start(t, cal, sla)
    d = start.date()
    left = days
    while left > 0:
        d += timedelta(days=1)
        if cal.is_working_day(d):
            left -= 1
    return datetime.combine(d, start.timetz())


def _after(
    t: datetime, dur: Duration | None, cal: HolidayCalendar, sla: SlaTable
) -> datetime | None:
    if dur is None:
        return None
    if dur.working_days is not None:
        return add_working_days(t, dur.working_days, cal, sla)
    if dur.hours is not None:
        return t + timedelta(hours=dur.hours)
    return None


def compute_sla(
    received_at: datetime, priority: str, sla: SlaTable, cal: HolidayCalendar, tz: ZoneInfo
) -> SlaDue:
    local = received_at.astimezone(tz)
    rule = sla.priorities[priority]
    return SlaDue(
        acknowledge_by=local + timedelta(hours=sla.acknowledge_for(priority)),
        first_response_by=_after(local, rule.first_response, cal, sla),
        resolve_by=_after(local, rule.resolve, cal, sla),
        update_every_hours=rule.update_every_hours,
        queue=rule.queue,
    )
