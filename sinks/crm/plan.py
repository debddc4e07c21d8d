"""How a batch lands in the CRM store, decided in memory (no I/O).

The store reads, in one query each, which items are already stored and the
tickets their repeats point to (locked); this module then replays the batch
in order exactly as item-by-item writes would: a redelivered item is skipped,
a repeat of an open ticket merges into it (also into a ticket opened earlier
in the same batch), a repeat of a closed ticket opens a new one related to it.
Several repeats of one ticket fold into one update: every repeat counts, the
most urgent priority wins with the deadlines of the first item that brought
it. What each merge found before it (priority and deadlines) is kept so that
undoing the merge can restore it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from models import FeedbackTriaged

# Lifecycle states of a closed ticket (crm/sla.py CLOSED): a repeat is not merged there.
CLOSED = ("已完成", "已归档")


@dataclass(frozen=True)
class Urgency:
    """A priority and the SLA deadlines that go with it."""

    priority: str
    ack_due_at: datetime
    first_response_due_at: datetime | None
    resolve_due_at: datetime | None

    @classmethod
    def of(cls, item: FeedbackTriaged) -> Urgency:
        tr = item.triage
        return cls(tr.priority, tr.sla.acknowledge_by, tr.sla.first_response_by, tr.sla.resolve_by)

    def merged_with(self, other: Urgency) -> Urgency:
        # "P1" < "P2": the more urgent one, and its deadlines; a tie keeps ours.
        return other if other.priority < self.priority else self


@dataclass
class Stored:
    """A ticket already in the store that a repeat of this batch points to."""

    ticket_id: int
    state: str
    urgency: Urgency
    merges: int = 0
    escalations: list[str] = field(default_factory=list)
    incident: bool = False


@dataclass
class New:
    """A ticket this batch opens (its number and id are given by the store)."""

    item: FeedbackTriaged
    related_to: int | None
    urgency: Urgency
    repeat_count: int
    escalations: list[str]
    incident: bool
    ticket_no: str | None = None
    ticket_id: int | None = None


@dataclass(frozen=True)
class Merge:
    item: FeedbackTriaged
    into: Stored | New
    before: Urgency


@dataclass
class Plan:
    steps: list[New | Merge] = field(default_factory=list)  # in the batch's order
    skipped: int = 0

    @property
    def new(self) -> list[New]:
        return [s for s in self.steps if isinstance(s, New)]

    @property
    def merges(self) -> list[Merge]:
        return [s for s in self.steps if isinstance(s, Merge)]

    def touched(self) -> list[Stored]:
        """Stored tickets that take merges, each once."""
        out: dict[int, Stored] = {}
        for m in self.merges:
            if isinstance(m.into, Stored):
                out[m.into.ticket_id] = m.into
        return list(out.values())


def repeat_targets(items: Sequence[FeedbackTriaged]) -> set[str]:
    return {i.triage.duplicate_of for i in items if i.triage.duplicate_of}


def plan_batch(
    items: Sequence[FeedbackTriaged],
    stored: Mapping[str, int],
    tickets: Mapping[int, Stored],
) -> Plan:
    """``stored``: source key -> ticket id of every key of the batch (own or
    repeated) already in the store; ``tickets``: those tickets, as locked."""
    plan = Plan()
    here: dict[str, Stored | New] = {}  # keys stored by this batch -> their ticket
    for item in items:
        key, tr = item.feedback.source_key, item.triage
        if key in stored or key in here:
            plan.skipped += 1  # redelivered or replayed (or twice in this batch)
            continue
        into: Stored | New | None = None
        related_to: int | None = None
        if tr.duplicate_of:
            target = here.get(tr.duplicate_of)
            if target is None and tr.duplicate_of in stored:
                target = tickets.get(stored[tr.duplicate_of])
            if isinstance(target, New) or (
                isinstance(target, Stored) and target.state not in CLOSED
            ):
                into = target
            elif target is not None:
                related_to = target.ticket_id
            # else the original never reached the store (quarantined, say): open a ticket.
        if into is None:
            new = New(
                item=item,
                related_to=related_to,
                urgency=Urgency.of(item),
                repeat_count=tr.repeat_count,
                escalations=list(tr.escalations),
                incident=tr.incident,
            )
            plan.steps.append(new)
            here[key] = new
            continue
        plan.steps.append(Merge(item, into, into.urgency))
        into.urgency = into.urgency.merged_with(Urgency.of(item))
        into.escalations.extend(tr.escalations)
        into.incident = into.incident or tr.incident
        if isinstance(into, New):
            into.repeat_count += 1
        else:
            into.merges += 1
        here[key] = into
    return plan
