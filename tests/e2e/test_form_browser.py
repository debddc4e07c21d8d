"""The embeddable /form page in a real headless Chromium (Debian's), driven by
Playwright: the customer sees the feedback number, and the ticket carries it."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.helpers import Proc, count, free_port, wait_for, wait_healthy

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run scripts/browser.sh (make test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


def assert_chinese_glyphs_render(page: object) -> None:
    """Without a CJK font Chromium draws every Chinese character as the same
    box: render a few distinct characters in the page's own font and require
    distinct, non-blank pictures."""
    chars = "意见反馈提交"
    page.evaluate(  # type: ignore[attr-defined]
        """(chars) => { for (const [i, c] of [...chars].entries()) {
            const s = document.createElement('span');
            s.id = 'glyph-' + i; s.textContent = c;
            s.style.fontSize = '32px'; s.style.display = 'inline-block';
            document.body.appendChild(s); } }""",
        chars,
    )
    shots = [
        page.locator(f"#glyph-{i}").screenshot()  # type: ignore[attr-defined]
        for i in range(len(chars))
    ]
    blank = page.evaluate(  # type: ignore[attr-defined]
        "() => { const s = document.createElement('span'); s.id = 'glyph-blank';"
        " s.textContent = '\u3000'; s.style.fontSize = '32px';"
        " s.style.display = 'inline-block'; document.body.appendChild(s); return 1; }"
    )
    assert blank == 1
    empty = page.locator("#glyph-blank").screenshot()  # type: ignore[attr-defined]
    assert len(set(shots)) == len(chars), "Chinese renders as boxes: install fonts-wqy-zenhei"
    assert empty not in shots


def test_form_shows_the_feedback_number_and_field_errors(
    service_env: dict[str, str], tmp_path: Path, browser: object
) -> None:
    port = free_port()
    procs = [
        Proc(["ingest", "web", "--port", str(port)], service_env, tmp_path, "web").start(),
        Proc(["triage", "--metrics-port", "0"], service_env, tmp_path, "triage").start(),
        Proc(["sink", "crm", "--metrics-port", "0"], service_env, tmp_path, "sink").start(),
    ]
    try:
        url = f"http://127.0.0.1:{port}"

        wait_healthy(url, procs[0])
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(url + "/form")
        assert page.title() == "意见反馈"
        assert_chinese_glyphs_render(page)

        # empty text: the page says so without posting
        page.click("#submit")
        assert page.text_content("#err-text") == "请填写反馈内容"

        # a contact that is neither phone nor email: the server's 400 becomes a field error
        page.fill("#text", "付款后订单一直显示待支付")
        page.fill("#contact", "abc")
        page.click("#submit")
        page.wait_for_selector("#err-contact:has-text('联系方式格式不正确')")

        page.select_option("#kind", "bug")
        page.fill("#name", "王先生")
        page.fill("#contact", "13812345678")
        page.click("#nps label:nth-child(4)")  # score 3
        page.click("#submit")
        page.wait_for_selector("#feedback-no")
        number = page.text_content("#feedback-no") or ""
        assert re.fullmatch(r"CRM\d{8}\d{4}", number), number
        page.screenshot(path=str(tmp_path / "form.png"))

        dsn = service_env["TINGJIAN_POSTGRES__DSN"]
        wait_for(lambda: count(dsn, "SELECT count(*) FROM tickets") == 1, 60, "the ticket")
        with psycopg.connect(dsn) as c:
            row = c.execute(
                "SELECT ticket_no, customer_name, customer_phone, metadata->>'nps' FROM tickets"
            ).fetchone()
        assert row == (number, "王先生", "13812345678", "3")
    finally:
        for p in procs:
            p.stop_quietly()
