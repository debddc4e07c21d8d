"""The ticket API's OpenAPI document (served at /openapi.json)."""

from __future__ import annotations

from typing import Any

from crm.lifecycle import RATINGS, TRANSITIONS
from models.vocabulary import PRIORITIES, SENTIMENTS, STATES, TYPES

_ERR = {"type": "object", "properties": {"error": {"type": "string"}}}
_REFUSALS = {
    "401": {"description": "no or unknown bearer token"},
    "403": {"description": "the token's role or department may not do this"},
    "404": {"description": "no such ticket"},
    "409": {
        "description": "not allowed in the ticket's state (with `allowed` next states), "
        "or someone else changed it (reload)"
    },
    "413": {"description": "body over the limit"},
    "429": {"description": "too many requests (Retry-After)"},
    "503": {"description": "the store is unavailable; retry"},
}
_NO = {
    "name": "no",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "反馈编号",
}
_IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "integer"},
    "description": "the ticket's version as last read: a stale copy is refused with 409",
}


def _post(summary: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [_NO, _IF_MATCH],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": props, "required": required}
                    }
                },
            },
            "responses": {"200": {"description": "the ticket after the change"}, **_REFUSALS},
        }
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Tingjian ticket API",
        "version": "1",
        "description": "The CRM side after triage (SPEC §7). Every call needs "
        "`Authorization: Bearer <token>` (`tingjian api token create`). Transitions: "
        + "; ".join(f"{a} → {', '.join(b) or '(final)'}" for a, b in TRANSITIONS.items()),
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Error": _ERR},
    },
    "security": [{"bearer": []}],
    "paths": {
        "/v1/tickets": {
            "get": {
                "summary": "tickets, newest first (an agent sees its department only)",
                "parameters": [
                    {"name": n, "in": "query", "required": False, "schema": s}
                    for n, s in (
                        ("department", {"type": "string"}),
                        ("state", {"enum": list(STATES)}),
                        ("priority", {"enum": list(PRIORITIES)}),
                        ("needs_review", {"type": "boolean"}),
                        ("overdue", {"type": "boolean"}),
                        ("q", {"type": "string"}),
                        ("limit", {"type": "integer", "maximum": 200}),
                        ("cursor", {"type": "integer"}),
                        ("order", {"enum": ["newest", "urgency"]}),
                    )
                ],
                "responses": {"200": {"description": "`tickets` and `next_cursor`"}, **_REFUSALS},
            }
        },
        "/v1/tickets/{no}": {
            "get": {
                "summary": "one ticket with its events, merged feedback, SLA due times "
                "and handling_hours (处理时长) once resolved",
                "parameters": [_NO],
                "responses": {"200": {"description": "the ticket"}, **_REFUSALS},
            }
        },
        "/v1/tickets/{no}/transition": _post(
            "move the ticket along SPEC §7",
            {
                "to": {"enum": list(STATES)},
                "note": {"type": "string", "description": "required for 退回 (已分派 → 新建)"},
                "assignee": {"type": "string", "description": "required for 已分派"},
                "solution": {"type": "string", "description": "required for 已完成"},
                "department": {
                    "type": "string",
                    "description": "lead/admin: move to another department",
                },
            },
            ["to"],
        ),
        "/v1/tickets/{no}/satisfaction": _post(
            "the customer's satisfaction; 不满意 reopens the ticket",
            {"rating": {"enum": list(RATINGS)}, "comment": {"type": "string"}},
            ["rating"],
        ),
        "/v1/tickets/{no}/labels": _post(
            "an agent's label correction, kept with the model's labels for the data team",
            {
                "type": {"enum": list(TYPES)},
                "priority": {"enum": list(PRIORITIES)},
                "sentiment": {"enum": list(SENTIMENTS)},
                "topics": {"type": "array", "items": {"type": "string"}},
            },
            [],
        ),
        "/v1/tickets/{no}/notes": _post(
            "a progress update (counts for the SLA's update cadence)",
            {"note": {"type": "string"}},
            ["note"],
        ),
        "/v1/tickets/{no}/feedback/{channel}/{source_id}/unmerge": {
            "post": {
                "summary": "undo a merge: the merged feedback becomes a new ticket (新建, "
                "related_to this one); this ticket counts one repeat less; both get an event "
                "with the merge reasons undone",
                "parameters": [
                    _NO,
                    *(
                        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                        for n in ("channel", "source_id")
                    ),
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"reason": {"type": "string"}},
                                "required": ["reason"],
                            }
                        }
                    },
                },
                "responses": {"200": {"description": "the new ticket"}, **_REFUSALS},
            }
        },
    },
}
