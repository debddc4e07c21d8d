"""The ticket lifecycle of SPEC §7 as data: states, the allowed transitions and
what each needs. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from core.errors import InvalidTransition
from models.vocabulary import STATES, TicketState

# 新建 → 已分派 → 已确认 → 处理中 → 待测试 → 待客户确认 → 已完成 → 已归档, plus:
# 已分派 → 新建 (退回: the owner returns it to dispatch with a reason, 首责制);
# 待测试 → 处理中 (the fix failed its test); 处理中 → 待客户确认 (nothing to
# test); 待客户确认 / 已完成 → 处理中 (the customer is not satisfied: reopened).
TRANSITIONS: Mapping[TicketState, tuple[TicketState, ...]] = {
    "新建": ("已分派",),
    "已分派": ("已确认", "新建"),
    "已确认": ("处理中",),
    "处理中": ("待测试", "待客户确认"),
    "待测试": ("待客户确认", "处理中"),
    "待客户确认": ("已完成", "处理中"),
    "已完成": ("已归档", "处理中"),
    "已归档": (),
}
assert set(TRANSITIONS) == set(STATES)

# States in which the customer's satisfaction may be recorded.
SATISFACTION_STATES: tuple[TicketState, ...] = ("待客户确认", "已完成")
RATINGS = ("满意", "基本满意", "不满意")


def allowed_next(state: str) -> tuple[TicketState, ...]:
    return TRANSITIONS.get(state, ())  # type: ignore[call-overload,no-any-return]


def check_transition(
    state: str, to: str, *, assignee: str | None, note: str | None, solution: str | None
) -> None:
    """Raise InvalidTransition unless ``state`` → ``to`` is allowed with what is given."""
    allowed = allowed_next(state)
    if to not in allowed:
        raise InvalidTransition(f"{state} → {to} is not a transition of the lifecycle", allowed)
    if to == "已分派" and not assignee:
        raise InvalidTransition("已分派 needs an assignee", allowed)
    if state == "已分派" and to == "新建" and not (note and note.strip()):
        raise InvalidTransition("退回 needs a reason in note", allowed)
    if to == "已完成" and not (solution and solution.strip()):
        raise InvalidTransition("已完成 needs a solution (解决方案/结果)", allowed)


def handling_hours(submitted_at: datetime, resolved_at: datetime | None) -> float | None:
    """处理时长: from submission to resolution, in hours (None while open)."""
    if resolved_at is None:
        return None
    return round((resolved_at - submitted_at).total_seconds() / 3600, 2)
