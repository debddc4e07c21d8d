"""The SLA clock (SPEC §6): from a ticket's due times and what happened to it,
the warnings and breaches that are due now. Pure; ``tingjian sla watch``
records each one exactly once (``crm/sla_store.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Clock = Literal["acknowledge", "first_response", "resolve", "update"]
Mark = Literal["warning", "breach"]
CLOSED = ("已完成", "已归档")


@dataclass(frozen=True)
class TicketClock:
    ticket_id: int
    ticket_no: str
    priority: str
    department: str
    state: str
    ack_due_at: datetime
    first_response_due_at: datetime | None
    resolve_due_at: datetime | None
    update_every_hours: int | None
    acknowledged_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    last_update_at: datetime  # the latest note or state change (or registration)


@dataclass(frozen=True)
class Due:
    """One mark to record: ``period`` tells repeated progress-update breaches apart."""

    ticket_id: int
    ticket_no: str
    priority: str
    department: str
    clock: Clock
    mark: Mark
    period: int
    due_at: datetime


def due_marks(t: TicketClock, now: datetime, warn_before: timedelta) -> Iterator[Due]:
    """Every warning (``warn_before`` ahead of a deadline) and breach that is
    due at ``now`` and not yet satisfied. Recording is idempotent, so the same
    mark may be yielded on every pass until it is stored."""
    if t.state in CLOSED:
        return
    clocks: tuple[tuple[Clock, datetime | None, datetime | None], ...] = (
        ("acknowledge", t.ack_due_at, t.acknowledged_at),
        ("first_response", t.first_response_due_at, t.first_response_at),
        ("resolve", t.resolve_due_at, t.resolved_at),
    )
    for clock, deadline, done in clocks:
        if deadline is None or done is not None:
            continue
        if now >= deadline:
            yield Due(
                t.ticket_id, t.ticket_no, t.priority, t.department, clock, "breach", 0, deadline
            )
        elif now >= deadline - warn_before:
            yield Due(
                t.ticket_id, t.ticket_no, t.priority, t.department, clock, "warning", 0, deadline
            )
    # Progress updates (P1 daily, P2 every 2 days) once work has started.
    if t.update_every_hours and t.acknowledged_at is not None:
        every = timedelta(hours=t.update_every_hours)
        deadline = t.last_update_at + every
        if now >= deadline:
            # one breach per missed period since the work started
            period = int((deadline - t.acknowledged_at) / every)
            yield Due(
                t.ticket_id,
                t.ticket_no,
                t.priority,
                t.department,
                "update",
                "breach",
                period,
                deadline,
            )
