"""Who is calling the ticket API: bearer tokens (stored as sha256 only), roles
and departments. Pure."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal, get_args

from core.errors import AccessDenied

Role = Literal["agent", "lead", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
TOKEN_PREFIX = "tjk_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    department: str | None  # an agent's department; None for lead/admin (all)

    @property
    def actor(self) -> str:
        """How events record who did it."""
        return f"{self.role}:{self.name}"

    @property
    def sees_contacts(self) -> bool:
        """Contacts in clear: admins only (SPEC §10: internal, and need-to-know)."""
        return self.role == "admin"

    def check_department(self, department: str) -> None:
        if self.role == "agent" and department != self.department:
            raise AccessDenied(
                f"an agent of {self.department} may not touch tickets of {department}"
            )

    def check_reassign(self) -> None:
        if self.role == "agent":
            raise AccessDenied("only a lead or an admin moves a ticket to another department")
