"""Inline SVG charts: drawn as text, so the browser renders the Chinese labels
with the page's CJK font and the HTML stays one self-contained file. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#3b6fb6", "#e07b39", "#4f9a5b", "#c44e52", "#8172b2", "#937860", "#da8bc3")


def bars(title: str, items: Sequence[tuple[str, float]], *, percent: bool = True) -> str:
    """Horizontal bars, one per (label, value)."""
    h = 28 * max(len(items), 1) + 40
    top = max((v for _, v in items), default=0) or 1
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="560" height="{h}"'
        f' viewBox="0 0 560 {h}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="18" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, v) in enumerate(items):
        y = 32 + i * 28
        w = 320 * v / top
        shown = f"{v * 100:.1f}%" if percent else f"{v:g}"
        parts += [
            f'<text x="150" y="{y + 15}" font-size="13" text-anchor="end">{escape(label)}</text>',
            f'<rect x="158" y="{y}" width="{w:.1f}" height="20" fill="{PALETTE[0]}"/>',
            f'<text x="{162 + w:.1f}" y="{y + 15}" font-size="12">{shown}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def lines(
    title: str,
    xs: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    marks: Sequence[tuple[int, int]] = (),  # (series index, x index) to flag as spikes
) -> str:
    w, h, left, bottom = 640, 300, 50, 250
    top_v = max((v for _, ys in series for v in ys), default=0) or 1
    step = (w - left - 20) / max(len(xs) - 1, 1)

    def pt(i: int, v: float) -> tuple[float, float]:
        return left + i * step, bottom - (bottom - 40) * v / top_v

    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{w}" height="{h + 30}"'
        f' viewBox="0 0 {w} {h + 30}" xmlns="http://www.w3.org/2000/svg">',
        f'<text x="0" y="18" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{bottom}" x2="{w - 10}" y2="{bottom}" stroke="#999"/>',
        f'<text x="{left - 6}" y="44" font-size="11" text-anchor="end">{top_v:g}</text>',
    ]
    for i, x in enumerate(xs):
        px, _ = pt(i, 0)
        parts.append(
            f'<text x="{px:.1f}" y="{bottom + 16}" font-size="11" text-anchor="middle">'
            f"{escape(x)}</text>"
        )
    for s, (name, ys) in enumerate(series):
        color = PALETTE[s % len(PALETTE)]
        pts = " ".join(f"{pt(i, v)[0]:.1f},{pt(i, v)[1]:.1f}" for i, v in enumerate(ys))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
        lx = left + (s % 4) * 140
        ly = h + 4 + (s // 4) * 16
        parts += [
            f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{color}"/>',
            f'<text x="{lx + 16}" y="{ly}" font-size="12">{escape(name)}</text>',
        ]
    for s, i in marks:
        px, py = pt(i, series[s][1][i])
        parts.append(
            f'<circle class="spike" cx="{px:.1f}" cy="{py:.1f}" r="6" fill="none"'
            f' stroke="#c00" stroke-width="2"><title>突增</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)
