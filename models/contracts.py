"""The messages that travel between stages.

Every contract rejects unknown fields and carries ``schema_version`` so that a
consumer can refuse (dead-letter) a message written by a newer producer instead
of guessing at it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from models.vocabulary import Channel, FeedbackType, Priority, Segment, Sentiment, TicketState

SCHEMA_VERSION = 1

Department = str  # from the routing table (config), e.g. 技术部

SourceId = Annotated[str, StringConstraints(min_length=1, max_length=512)]
# 64 KiB of customer text is far beyond any real feedback; longer input is
# rejected at the connector with a clear reason rather than truncated silently.
MAX_TEXT_CHARS = 65_536


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, v: object) -> object:
        # NUL carries no meaning in feedback and PostgreSQL cannot store it in
        # text: dropped at the contract so that no stage chokes on it later.
        return v.replace("\x00", "") if isinstance(v, str) and "\x00" in v else v


class Customer(Contract):
    """Who sent it. Contact data is internal only: mask it outside the CRM store."""

    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    phone: Annotated[str, StringConstraints(max_length=64)] | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    account: Annotated[str, StringConstraints(max_length=200)] | None = None
    segment: Segment | None = None


class Attachment(Contract):
    name: str
    content_type: str
    size: int = Field(ge=0)


class FeedbackReceived(Contract):
    """What a connector produces: one item of feedback, as the customer sent it."""

    schema_version: Literal[1] = 1
    channel: Channel
    source_id: SourceId
    received_at: AwareDatetime
    # 反馈编号 when the connector already told the customer one (web form).
    feedback_no: Annotated[str, StringConstraints(max_length=40)] | None = None
    subject: Annotated[str, StringConstraints(max_length=1000)] | None = None
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]
    customer: Customer = Customer()
    attachments: tuple[Attachment, ...] = ()
    # Connector facts that triage may use (NPS score, survey answer, origin page).
    metadata: dict[str, str] = Field(default_factory=dict)
    # Quality flags set by the connector, e.g. ``charset_suspect``.
    flags: tuple[str, ...] = ()

    @property
    def source_key(self) -> str:
        return f"{self.channel}:{self.source_id}"


class SlaDue(Contract):
    acknowledge_by: AwareDatetime
    first_response_by: AwareDatetime | None
    resolve_by: AwareDatetime | None
    update_every_hours: int | None = None
    queue: str | None = None  # P4 goes to the requirements pool 需求池


class Triage(Contract):
    """What triage decided about one item. Confidences are in [0, 1]."""

    type: FeedbackType
    type_confidence: float = Field(ge=0, le=1)
    priority: Priority
    priority_confidence: float = Field(ge=0, le=1)
    sentiment: Sentiment
    sentiment_score: float = Field(ge=-1, le=1)
    topics: tuple[str, ...] = ()
    summary: Annotated[str, StringConstraints(max_length=30)]
    keywords: tuple[str, ...] = ()
    department: Department
    sla: SlaDue
    needs_review: bool = False
    escalations: tuple[str, ...] = ()
    # Every priority signal that fired, "name:evidence" (triage/signals.py).
    signals: tuple[str, ...] = ()
    duplicate_of: str | None = None  # source key (channel:source_id) of the ticket merged into
    repeat_count: int = Field(default=0, ge=0)
    # Why it is a repeat (the dedup signals), so an agent can undo a merge.
    merge_reasons: tuple[str, ...] = ()
    incident: bool = False
    customer_key: str | None = None  # keyed hash of the customer's contact, never the contact
    entities: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    model_version: str
    # Labels of the heads beyond type, priority and sentiment (triage/heads/).
    labels: dict[str, str] = Field(default_factory=dict)


class FeedbackTriaged(Contract):
    """What triage produces: the original item, untouched, plus the decision."""

    schema_version: Literal[1] = 1
    feedback: FeedbackReceived
    triage: Triage
    normalized_text: str
    triaged_at: AwareDatetime


class Quarantined(Contract):
    """Spam and invalid items: kept with the reason, never a ticket, never deleted."""

    schema_version: Literal[1] = 1
    feedback: FeedbackReceived
    reason: str
    detail: str = ""
    quarantined_at: AwareDatetime
    # What triage made of it, when it got that far (spam): for review and retraining.
    triage: Triage | None = None


class DeadLetter(Contract):
    """What a stage could not process. ``payload`` is the original bytes (base64)."""

    schema_version: Literal[1] = 1
    stage: str
    error_type: str
    error: str  # already masked: no phone or email in clear
    payload_b64: str
    # The original's size and sha256; a payload over the cap is cut (truncated
    # true) and the source topic/partition/offset say where the whole one lives.
    payload_bytes: int | None = None
    payload_sha256: str | None = None
    truncated: bool = False
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    failed_at: AwareDatetime


class Ticket(Contract):
    """A row of the CRM store (反馈处理记录表, SPEC §8)."""

    ticket_no: str
    channel: Channel
    source_id: str
    submitted_at: datetime
    customer_name: str | None
    customer_phone: str | None
    customer_email: str | None
    subject: str | None
    content: str
    summary: str
    type: FeedbackType
    priority: Priority
    sentiment: Sentiment
    sentiment_score: float
    topics: tuple[str, ...]
    department: str
    state: TicketState
    type_confidence: float
    priority_confidence: float
    needs_review: bool
    model_version: str
    repeat_count: int
    merged_source_ids: tuple[str, ...]
    incident: bool
    ack_due_at: datetime
    first_response_due_at: datetime | None
    resolve_due_at: datetime | None
