"""The vocabulary of the business (SPEC §2, §4, §5, §7), spelled once.

Every other place (contracts, business tables, training, rules, the SQL CHECK
constraints, checked by ``tests/unit/test_vocabulary.py``) takes it from here.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Channel = Literal["email", "web_form", "social", "app_review", "survey", "import"]
FeedbackType = Literal["bug", "ux", "suggestion", "complaint", "inquiry", "praise", "spam"]
# Most urgent first; the SQL relies on the spelling sorting the same way (LEAST()).
Priority = Literal["P1", "P2", "P3", "P4"]
Sentiment = Literal["negative", "neutral", "positive"]
Segment = Literal["新客户", "老客户", "高价值客户", "流失客户"]
# 处理进展, in the order of SPEC §7.
TicketState = Literal[
    "新建", "已分派", "已确认", "处理中", "待测试", "待客户确认", "已完成", "已归档"
]

CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)
TYPES: Final[tuple[FeedbackType, ...]] = get_args(FeedbackType)
PRIORITIES: Final[tuple[Priority, ...]] = get_args(Priority)
SENTIMENTS: Final[tuple[Sentiment, ...]] = get_args(Sentiment)
SEGMENTS: Final[tuple[Segment, ...]] = get_args(Segment)
STATES: Final[tuple[TicketState, ...]] = get_args(TicketState)
INITIAL_STATE: Final[TicketState] = "新建"


def raise_priority(priority: Priority, steps: int = 1) -> Priority:
    """One level more urgent (P3 -> P2), never past P1."""
    return PRIORITIES[max(0, PRIORITIES.index(priority) - steps)]


def at_least(priority: Priority, floor: Priority) -> Priority:
    """The more urgent of the two."""
    return PRIORITIES[min(PRIORITIES.index(priority), PRIORITIES.index(floor))]
