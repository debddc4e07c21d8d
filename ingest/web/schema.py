"""What a web client may post, and how it becomes a FeedbackReceived. Pure."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from models import Customer, FeedbackReceived
from models.contracts import MAX_TEXT_CHARS

_PHONE = re.compile(r"^\+?[\d\- ]{7,20}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]


class WebFeedback(BaseModel):
    """A feedback post. Unknown fields are rejected so typos surface as 400s."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS)
    ]
    subject: Short | None = None
    channel: Literal["web_form", "app_review", "survey"] = "web_form"
    kind: Literal["bug", "ux", "suggestion", "complaint", "inquiry", "praise", "other"] | None = (
        None
    )
    name: Short | None = None
    contact: Short | None = None  # phone or email, whichever the customer gave
    phone: Short | None = None
    email: Short | None = None
    account: Short | None = None
    nps: int | None = Field(default=None, ge=0, le=10)
    page: Annotated[str, StringConstraints(max_length=500)] | None = None
    website: str | None = None  # honeypot: humans never see it, bots fill it

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v and not _PHONE.match(v):
            raise ValueError("not a phone number")
        return v or None

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v and not _EMAIL.match(v):
            raise ValueError("not an email address")
        return v or None

    @field_validator("contact")
    @classmethod
    def _contact(cls, v: str | None) -> str | None:
        if v and not (_PHONE.match(v) or _EMAIL.match(v)):
            raise ValueError("contact must be a phone number or an email address")
        return v or None

    def to_received(
        self,
        source_id: str,
        received_at: datetime,
        origin: str | None,
        feedback_no: str | None = None,
    ) -> FeedbackReceived:
        phone, email = self.phone, self.email
        if self.contact:
            if _EMAIL.match(self.contact):
                email = email or self.contact
            else:
                phone = phone or self.contact
        meta: dict[str, str] = {}
        if self.kind:
            meta["customer_kind"] = self.kind
        if self.nps is not None:
            meta["nps"] = str(self.nps)
        if self.page:
            meta["page"] = self.page
        if origin:
            meta["origin"] = origin
        return FeedbackReceived(
            channel=self.channel,
            source_id=source_id,
            received_at=received_at,
            feedback_no=feedback_no,
            subject=self.subject,
            text=self.text,
            customer=Customer(name=self.name, phone=phone, email=email, account=self.account),
            metadata=meta,
        )
