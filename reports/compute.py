"""The figures of a report from the period's tickets (SPEC §11, seeds 第六步):
shares, spikes, recurring issues, handling efficiency, SLA, satisfaction,
segments. Pure: every number here is checked against a hand-computed fixture."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from reports.clusters import Cluster, top_clusters
from reports.data import StoreData, TicketRow, WeekCount
from reports.period import Period

CLOCKS = ("acknowledge", "first_response", "resolve")
CLOCK_NAMES = {"acknowledge": "受理超时", "first_response": "响应超时", "resolve": "解决超时"}
RATINGS = ("满意", "基本满意", "不满意")
TYPE_NAMES = {
    "bug": "功能问题",
    "ux": "体验优化",
    "suggestion": "建议",
    "complaint": "投诉",
    "inquiry": "咨询",
    "praise": "表扬",
    "spam": "无效",
}


@dataclass(frozen=True)
class SpikeRule:
    rise: float = 0.5
    min_count: int = 5

    def is_spike(self, prev: int, cur: int) -> bool:
        """A rise of at least ``rise`` (relative) that reaches ``min_count``;
        from nothing, reaching ``min_count`` is enough."""
        if cur < self.min_count:
            return False
        return prev == 0 or (cur - prev) / prev >= self.rise


@dataclass(frozen=True)
class ShareRow:
    name: str
    count: int
    share: float
    prev_count: int
    change: float | None  # relative, None when the previous count is 0
    spike: bool


@dataclass(frozen=True)
class TimeRow:
    name: str
    tickets: int
    resolved: int
    avg_hours: float | None
    p90_hours: float | None


@dataclass(frozen=True)
class SlaRow:
    name: str
    tickets: int
    breached: int  # tickets with at least one breach
    compliance: float


@dataclass(frozen=True)
class SegmentRow:
    name: str
    tickets: int
    share: float
    negative_share: float
    avg_hours: float | None
    satisfied_share: float | None  # 满意 among rated


@dataclass(frozen=True)
class TrendWeek:
    week: date
    tickets: int
    by_type: dict[str, int]
    spikes: tuple[str, ...]  # types that spiked against the week before
    satisfaction: dict[str, int]


@dataclass
class Report:
    period: Period
    department: str | None
    tickets: int
    prev_tickets: int
    by_type: list[ShareRow] = field(default_factory=list)
    by_topic: list[ShareRow] = field(default_factory=list)
    by_channel: list[ShareRow] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    trend: list[TrendWeek] = field(default_factory=list)
    time_by_type: list[TimeRow] = field(default_factory=list)
    time_by_department: list[TimeRow] = field(default_factory=list)
    p1_tickets: int = 0
    p1_resolved_24h: int = 0
    breaches: dict[str, int] = field(default_factory=dict)  # clock -> tickets breached
    sla_by_department: list[SlaRow] = field(default_factory=list)
    sla_by_priority: list[SlaRow] = field(default_factory=list)
    reopened: int = 0
    needs_review: int = 0
    corrected: int = 0
    satisfaction: dict[str, int] = field(default_factory=dict)
    segments: list[SegmentRow] = field(default_factory=list)
    incident_tickets: int = 0
    incidents: int | None = None  # None: the store has no incidents table yet

    def share(self, n: int) -> float:
        return n / self.tickets if self.tickets else 0.0

    @property
    def p1_rate(self) -> float | None:
        return self.p1_resolved_24h / self.p1_tickets if self.p1_tickets else None

    @property
    def rated(self) -> int:
        return sum(self.satisfaction.values())


def p90(values: Sequence[float]) -> float | None:
    """Nearest rank: the smallest value with at least 90 % of values at or below it."""
    if not values:
        return None
    s = sorted(values)
    return s[math.ceil(0.9 * len(s)) - 1]


def _shares(cur: Iterable[str], prev: Iterable[str], total: int, rule: SpikeRule) -> list[ShareRow]:
    c, p = Counter(cur), Counter(prev)
    rows = [
        ShareRow(
            name=k,
            count=n,
            share=n / total if total else 0.0,
            prev_count=p.get(k, 0),
            change=(n - p[k]) / p[k] if p.get(k) else None,
            spike=rule.is_spike(p.get(k, 0), n),
        )
        for k, n in c.items()
    ]
    return sorted(rows, key=lambda r: (-r.count, r.name))


def _times(rows: Sequence[TicketRow], key: Callable[[TicketRow], str]) -> list[TimeRow]:
    groups: dict[str, list[TicketRow]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    out = []
    for name, g in sorted(groups.items()):
        hours = [r.handling_hours for r in g if r.handling_hours is not None]
        out.append(
            TimeRow(
                name, len(g), len(hours), sum(hours) / len(hours) if hours else None, p90(hours)
            )
        )
    return out


def _sla(rows: Sequence[TicketRow], key: Callable[[TicketRow], str]) -> list[SlaRow]:
    groups: dict[str, list[TicketRow]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    out = []
    for name, g in sorted(groups.items()):
        breached = sum(1 for r in g if r.breaches)
        out.append(SlaRow(name, len(g), breached, 1 - breached / len(g)))
    return out


def _segments(rows: Sequence[TicketRow]) -> list[SegmentRow]:
    groups: dict[str, list[TicketRow]] = defaultdict(list)
    for r in rows:
        groups[r.segment or "未知"].append(r)
    out = []
    for name, g in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        hours = [r.handling_hours for r in g if r.handling_hours is not None]
        rated = [r for r in g if r.satisfaction]
        out.append(
            SegmentRow(
                name,
                len(g),
                len(g) / len(rows),
                sum(1 for r in g if r.sentiment == "negative") / len(g),
                sum(hours) / len(hours) if hours else None,
                sum(1 for r in rated if r.satisfaction == "满意") / len(rated) if rated else None,
            )
        )
    return out


def _trend(weeks: Sequence[WeekCount], rule: SpikeRule) -> list[TrendWeek]:
    by_week: dict[date, list[WeekCount]] = defaultdict(list)
    for w in weeks:
        by_week[w.week].append(w)
    out: list[TrendWeek] = []
    prev: dict[str, int] = {}
    for wk in sorted(by_week):
        types = {w.type: w.tickets for w in by_week[wk]}
        spikes = tuple(
            sorted(t for t, n in types.items() if out and rule.is_spike(prev.get(t, 0), n))
        )
        sat = {
            "满意": sum(w.satisfied for w in by_week[wk]),
            "基本满意": sum(w.fairly for w in by_week[wk]),
            "不满意": sum(w.unsatisfied for w in by_week[wk]),
        }
        out.append(TrendWeek(wk, sum(types.values()), types, spikes, sat))
        prev = types
    return out


def compute(
    data: StoreData,
    period: Period,
    *,
    department: str | None = None,
    rule: SpikeRule | None = None,
    top: int = 5,
    examples: int = 3,
    sample: int = 20_000,
) -> Report:
    rule = rule or SpikeRule()
    cur, prev = data.current, data.previous
    n = len(cur)
    rep = Report(period, department, n, len(prev), incidents=data.incidents)
    rep.by_type = _shares((r.type for r in cur), (r.type for r in prev), n, rule)
    rep.by_topic = _shares(
        (t for r in cur for t in (r.topics or ("未归类",))),
        (t for r in prev for t in (r.topics or ("未归类",))),
        n,
        rule,
    )
    rep.by_channel = _shares((r.channel for r in cur), (r.channel for r in prev), n, rule)
    rep.clusters = top_clusters(
        [r.summary for r in cur],
        [r.summary for r in prev],
        top=top,
        examples=examples,
        sample=sample,
    )
    rep.trend = _trend(data.weeks, rule)
    rep.time_by_type = _times(cur, lambda r: r.type)
    rep.time_by_department = _times(cur, lambda r: r.department)
    p1 = [r for r in cur if r.priority == "P1"]
    rep.p1_tickets = len(p1)
    rep.p1_resolved_24h = sum(
        1 for r in p1 if r.handling_hours is not None and r.handling_hours <= 24
    )
    rep.breaches = {c: sum(1 for r in cur if c in r.breaches) for c in CLOCKS}
    rep.sla_by_department = _sla(cur, lambda r: r.department)
    rep.sla_by_priority = _sla(cur, lambda r: r.priority)
    rep.reopened = sum(1 for r in cur if r.reopened)
    rep.needs_review = sum(1 for r in cur if r.needs_review)
    rep.corrected = sum(1 for r in cur if r.corrected)
    rep.satisfaction = {k: sum(1 for r in cur if r.satisfaction == k) for k in RATINGS}
    rep.segments = _segments(cur) if cur else []
    rep.incident_tickets = sum(1 for r in cur if r.incident)
    return rep
