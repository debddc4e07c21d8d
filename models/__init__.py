"""Message contracts shared by every stage (pydantic v2, strict, versioned)."""

from models.contracts import (
    SCHEMA_VERSION,
    Attachment,
    Customer,
    DeadLetter,
    Department,
    FeedbackReceived,
    FeedbackTriaged,
    Quarantined,
    SlaDue,
    Ticket,
    Triage,
)
from models.topics import Topics
from models.vocabulary import (
    CHANNELS,
    PRIORITIES,
    SENTIMENTS,
    STATES,
    TYPES,
    Channel,
    FeedbackType,
    Priority,
    Sentiment,
    TicketState,
)

__all__ = [
    "CHANNELS",
    "PRIORITIES",
    "SCHEMA_VERSION",
    "SENTIMENTS",
    "STATES",
    "TYPES",
    "Attachment",
    "Channel",
    "Customer",
    "DeadLetter",
    "Department",
    "FeedbackReceived",
    "FeedbackTriaged",
    "FeedbackType",
    "Priority",
    "Quarantined",
    "Sentiment",
    "SlaDue",
    "Ticket",
    "TicketState",
    "Topics",
    "Triage",
]
