"""The HTML report in headless Chromium: every section present and non-empty,
charts drawn, Chinese glyphs rendered (not boxes); a screenshot is kept."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_form_browser import assert_chinese_glyphs_render, browser  # noqa: F401
from tests.integration.test_reports import CURRENT, PREVIOUS, _insert, build

SECTIONS = (
    "summary",
    "overview",
    "by_type",
    "by_topic",
    "by_channel",
    "clusters",
    "trend",
    "time_by_type",
    "time_by_department",
    "sla",
    "sla_by_department",
    "sla_by_priority",
    "satisfaction",
    "segments",
)


def test_report_renders_in_chromium(
    fresh_db: str,
    tmp_path: Path,
    browser: object,  # noqa: F811
) -> None:
    _insert(fresh_db, CURRENT + PREVIOUS)
    build(fresh_db, tmp_path, "--format", "html")
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto((tmp_path / "report-2026-W10.html").as_uri())
    for key in SECTIONS:
        sec = page.locator(f"section#{key}")
        assert sec.count() == 1, key
        assert sec.locator("h2").inner_text().strip(), key
        assert sec.locator("li, td").count() > 0, key
        assert "本期无数据" not in sec.inner_text(), key
    assert page.locator("svg.chart").count() >= 8
    assert page.locator("svg.chart rect").count() > 0
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert_chinese_glyphs_render(page)
