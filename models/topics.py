"""Kafka topic names: the one place they are spelled."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    """Topic names, optionally prefixed (tests and multi-tenant clusters use a prefix)."""

    prefix: str = ""

    @property
    def received(self) -> str:
        return f"{self.prefix}feedback.received"

    @property
    def triaged(self) -> str:
        return f"{self.prefix}feedback.triaged"

    @property
    def quarantine(self) -> str:
        return f"{self.prefix}feedback.quarantine"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}feedback.dlq"

    @property
    def notifications(self) -> str:
        """CRM events for the outside (SLA warnings and breaches) for the webhook sink."""
        return f"{self.prefix}crm.notifications"

    def all(self) -> tuple[str, ...]:
        return (self.received, self.triaged, self.quarantine, self.dlq, self.notifications)
