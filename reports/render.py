"""The report's three outputs: one self-contained HTML page (inline SVG charts,
no external asset), a Markdown summary, an Excel workbook of the tables."""

from __future__ import annotations

from html import escape
from pathlib import Path

from openpyxl import Workbook

from reports.charts import bars, lines
from reports.compute import CLOCK_NAMES, RATINGS, TYPE_NAMES, Report
from reports.tables import Cell, Table, pct, tables

_RATIO_WORDS = ("占比", "环比", "率")


def _fmt(header: str, v: Cell) -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and any(w in header for w in _RATIO_WORDS):
        return pct(v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _fmt_overview(name: Cell, v: Cell) -> str:
    return _fmt(str(name), v)


def headlines(rep: Report) -> list[str]:
    """The sentences a manager reads first (SPEC §11)."""
    out = [f"{rep.period.label} 共 {rep.tickets} 条反馈(上期 {rep.prev_tickets} 条)。"]
    for c in rep.clusters[:3]:
        out.append(f"{pct(c.share)} 反馈涉及「{c.label}」(上期 {pct(c.prev_share)})。")
    for r in rep.by_type:
        if r.spike:
            change = "新出现" if r.change is None else f"环比增长{r.change * 100:.0f}%"
            out.append(f"{TYPE_NAMES.get(r.name, r.name)}{change}({r.prev_count} → {r.count})。")
    out.append(
        f"P1 24小时解决率 {pct(rep.p1_rate)};"
        + ";".join(f"{CLOCK_NAMES[k]} {n} 单" for k, n in rep.breaches.items())
        + "。"
    )
    if rep.rated:
        out.append(
            "满意度:" + "、".join(f"{k} {pct(n / rep.rated)}" for k, n in rep.satisfaction.items())
        )
    return out


def _html_table(t: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    if t.key == "overview":
        body = "".join(
            f"<tr><td>{escape(str(r[0]))}</td><td>{escape(_fmt_overview(r[0], r[1]))}</td></tr>"
            for r in t.rows
        )
    else:
        body = "".join(
            "<tr>"
            + "".join(f"<td>{escape(_fmt(h, v))}</td>" for h, v in zip(t.headers, r, strict=True))
            + "</tr>"
            for r in t.rows
        )
    if not t.rows:
        body = f'<tr><td colspan="{len(t.headers)}">本期无数据</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _charts(rep: Report) -> dict[str, str]:
    weeks = [w.week.strftime("%m-%d") for w in rep.trend]
    types = sorted({t for w in rep.trend for t in w.by_type})
    series = [
        (TYPE_NAMES.get(t, t), [float(w.by_type.get(t, 0)) for w in rep.trend]) for t in types
    ]
    marks = [(types.index(s), i) for i, w in enumerate(rep.trend) for s in w.spikes]
    sat_series = [
        (k, [w.satisfaction[k] / (sum(w.satisfaction.values()) or 1) for w in rep.trend])
        for k in RATINGS
    ]
    return {
        "by_type": bars(
            "类型占比", [(TYPE_NAMES.get(r.name, r.name), r.share) for r in rep.by_type]
        ),
        "by_topic": bars("主题占比", [(r.name, r.share) for r in rep.by_topic]),
        "by_channel": bars("渠道占比", [(r.name, r.share) for r in rep.by_channel]),
        "clusters": bars("Top 重复问题占比", [(c.label, c.share) for c in rep.clusters]),
        "trend": lines("每周反馈量(红圈:突增)", weeks, series, marks),
        "sla_by_department": bars(
            "SLA 达标率(按部门)", [(r.name, r.compliance) for r in rep.sla_by_department]
        ),
        "sla_by_priority": bars(
            "SLA 达标率(按优先级)", [(r.name, r.compliance) for r in rep.sla_by_priority]
        ),
        "satisfaction": lines("满意度趋势(占已评价)", weeks, sat_series),
        "segments": bars("各分群负面情绪占比", [(s.name, s.negative_share) for s in rep.segments]),
        "time_by_department": bars(
            "平均处理时长(小时,按部门)",
            [(r.name, r.avg_hours or 0.0) for r in rep.time_by_department],
            percent=False,
        ),
    }


_CSS = """
body { font-family: "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
       margin: 24px; color: #222; }
section { margin-bottom: 28px; } h2 { border-bottom: 2px solid #3b6fb6; padding-bottom: 4px; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #ccc;
       padding: 4px 8px; font-size: 13px; } th { background: #eef2f8; }
svg text { font-family: inherit; } .headlines li { margin: 4px 0; }
"""


def html(rep: Report) -> str:
    charts = _charts(rep)
    title = f"听见 复盘报告 {rep.period.label}" + (f" · {rep.department}" if rep.department else "")
    parts = [
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{_CSS}</style></head><body><h1>{escape(title)}</h1>",
        '<section id="summary"><h2>摘要</h2><ul class="headlines">'
        + "".join(f"<li>{escape(s)}</li>" for s in headlines(rep))
        + "</ul></section>",
    ]
    for t in tables(rep):
        parts.append(
            f'<section id="{t.key}"><h2>{escape(t.title)}</h2>'
            + charts.get(t.key, "")
            + _html_table(t)
            + "</section>"
        )
    parts.append("</body></html>")
    return "".join(parts)


def markdown(rep: Report) -> str:
    out = [f"# 听见 复盘报告 {rep.period.label}", "", *[f"- {s}" for s in headlines(rep)], ""]
    for t in tables(rep):
        out += [f"## {t.title}", "", "| " + " | ".join(t.headers) + " |"]
        out.append("|" + "---|" * len(t.headers))
        for r in t.rows:
            cells = (
                [str(r[0]), _fmt_overview(r[0], r[1])]
                if t.key == "overview"
                else [_fmt(h, v) for h, v in zip(t.headers, r, strict=True)]
            )
            out.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        out.append("")
    return "\n".join(out)


def xlsx(rep: Report, path: Path) -> None:
    """One sheet per table, raw numbers (ratios as fractions) for reworking."""
    wb = Workbook()
    wb.remove(wb.active)
    for t in tables(rep):
        ws = wb.create_sheet(t.key[:31])
        ws.append([t.title])
        ws.append(list(t.headers))
        for r in t.rows:
            ws.append(list(r))
    wb.save(path)


def write(rep: Report, out_dir: Path, formats: set[str]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"report-{rep.period.label}" + (f"-{rep.department}" if rep.department else "")
    written = []
    if "html" in formats:
        p = out_dir / f"{stem}.html"
        p.write_text(html(rep), encoding="utf-8")
        written.append(p)
    if "md" in formats:
        p = out_dir / f"{stem}.md"
        p.write_text(markdown(rep), encoding="utf-8")
        written.append(p)
    if "xlsx" in formats:
        p = out_dir / f"{stem}.xlsx"
        xlsx(rep, p)
        written.append(p)
    return written
