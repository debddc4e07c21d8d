"""Message contracts shared by every stage (pydantic v2, strict, versioned)."""

from models.contracts import (
    SCHEMA_VERSION,
    Attachment,
    Channel,
    Customer,
    DeadLetter,
    Department,
    FeedbackReceived,
    FeedbackTriaged,
    FeedbackType,
    Priority,
    Quarantined,
    Sentiment,
    SlaDue,
    Ticket,
    Triage,
)
from models.topics import Topics

__all__ = [
    "SCHEMA_VERSION",
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
    "Topics",
    "Triage",
]
