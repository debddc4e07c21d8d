"""A report as titled tables, the one shape the HTML, Markdown and Excel
renderers share, so that every output shows the same numbers. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from reports.compute import CLOCK_NAMES, RATINGS, TYPE_NAMES, Report, ShareRow, TimeRow

Cell = str | int | float | None


@dataclass(frozen=True)
class Table:
    key: str  # section id (html anchors, sheet names)
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[Cell, ...]]


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def hours(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}"


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)


def _share_table(key: str, title: str, rows: list[ShareRow], names: dict[str, str]) -> Table:
    return Table(
        key,
        title,
        ("名称", "数量", "占比", "上期数量", "环比", "突增"),
        [
            (
                names.get(r.name, r.name),
                r.count,
                _r(r.share),
                r.prev_count,
                _r(r.change),
                "是" if r.spike else "",
            )
            for r in rows
        ],
    )


def _time_table(key: str, title: str, rows: list[TimeRow], names: dict[str, str]) -> Table:
    return Table(
        key,
        title,
        ("名称", "工单数", "已解决", "平均处理时长(小时)", "P90处理时长(小时)"),
        [
            (
                names.get(r.name, r.name),
                r.tickets,
                r.resolved,
                _r(r.avg_hours, 2),
                _r(r.p90_hours, 2),
            )
            for r in rows
        ],
    )


def tables(rep: Report) -> list[Table]:
    out = [
        Table(
            "overview",
            "概览",
            ("指标", "数值"),
            [
                ("周期", rep.period.label),
                ("部门", rep.department or "全部"),
                ("工单数", rep.tickets),
                ("上期工单数", rep.prev_tickets),
                ("P1工单数", rep.p1_tickets),
                ("P1 24小时内解决", rep.p1_resolved_24h),
                ("P1 24小时解决率", _r(rep.p1_rate)),
                ("重开占比", _r(rep.share(rep.reopened))),
                ("待复核占比(needs_review)", _r(rep.share(rep.needs_review))),
                ("人工纠正标签占比", _r(rep.share(rep.corrected))),
                ("突发事件工单数", rep.incident_tickets),
                ("事件数(incidents表)", "无此表" if rep.incidents is None else rep.incidents),
            ],
        ),
        _share_table("by_type", "类型分布", rep.by_type, dict(TYPE_NAMES)),
        _share_table("by_topic", "主题分布", rep.by_topic, {}),
        _share_table("by_channel", "渠道分布", rep.by_channel, {}),
        Table(
            "clusters",
            "Top 重复问题",
            ("问题", "数量", "占比", "上期数量", "上期占比", "示例"),
            [
                (
                    c.label,
                    c.count,
                    _r(c.share),
                    c.prev_count,
                    _r(c.prev_share),
                    " / ".join(c.examples),
                )
                for c in rep.clusters
            ],
        ),
        Table(
            "trend",
            "周趋势",
            ("周(周一)", "工单数", "突增类型", *RATINGS),
            [
                (
                    w.week.isoformat(),
                    w.tickets,
                    ", ".join(TYPE_NAMES.get(s, s) for s in w.spikes),
                    *(w.satisfaction[k] for k in RATINGS),
                )
                for w in rep.trend
            ],
        ),
        _time_table("time_by_type", "处理时长(按类型)", rep.time_by_type, dict(TYPE_NAMES)),
        _time_table("time_by_department", "处理时长(按部门)", rep.time_by_department, {}),
        Table(
            "sla",
            "SLA 超时",
            ("时钟", "超时工单数", "占比"),
            [(CLOCK_NAMES[c], n, _r(rep.share(n))) for c, n in rep.breaches.items()],
        ),
        Table(
            "sla_by_department",
            "SLA 达标率(按部门)",
            ("部门", "工单数", "超时工单数", "达标率"),
            [(r.name, r.tickets, r.breached, _r(r.compliance)) for r in rep.sla_by_department],
        ),
        Table(
            "sla_by_priority",
            "SLA 达标率(按优先级)",
            ("优先级", "工单数", "超时工单数", "达标率"),
            [(r.name, r.tickets, r.breached, _r(r.compliance)) for r in rep.sla_by_priority],
        ),
        Table(
            "satisfaction",
            "客户满意度",
            ("评价", "数量", "占比"),
            [(k, n, _r(n / rep.rated) if rep.rated else None) for k, n in rep.satisfaction.items()],
        ),
        Table(
            "segments",
            "客户分群对比",
            ("分群", "工单数", "占比", "负面情绪占比", "平均处理时长(小时)", "满意占比"),
            [
                (
                    s.name,
                    s.tickets,
                    _r(s.share),
                    _r(s.negative_share),
                    _r(s.avg_hours, 2),
                    _r(s.satisfied_share),
                )
                for s in rep.segments
            ],
        ),
    ]
    return out
