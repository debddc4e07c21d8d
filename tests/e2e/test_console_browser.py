"""The agents' console in a real headless Chromium against `tingjian api`:
sign in with a token, open a ticket, correct its type, move it to 已完成 and
see the events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg

from crm.store import TicketDesk
from models import Customer, FeedbackReceived
from sinks.crm.store import CrmStore
from tests.e2e.test_form_browser import assert_chinese_glyphs_render, browser  # noqa: F401
from tests.helpers import Proc, free_port, wait_healthy
from tests.integration.test_ticket_api import ENGINE, FMT, TZ


def test_an_agent_works_a_ticket_in_the_console(
    service_env: dict[str, str],
    tmp_path: Path,
    browser: object,  # noqa: F811
) -> None:
    dsn = service_env["TINGJIAN_POSTGRES__DSN"]
    now = datetime.now(UTC)
    item = FeedbackReceived(
        channel="web_form",
        source_id="c-1",
        received_at=now,
        text="付款的时候一直提示系统繁忙，无法完成支付",
        customer=Customer(name="赵女士", phone="13912345678"),
    )
    store = CrmStore(dsn, FMT, TZ)
    store.write_batch(ENGINE.triage_batch([item], now), "g", {})
    store.close()
    with psycopg.connect(dsn) as c:
        (number, department) = c.execute("SELECT ticket_no, department FROM tickets").fetchone()  # type: ignore[misc]
    desk = TicketDesk(dsn)
    token = desk.create_token("小张", "agent", department)
    desk.close()

    port = free_port()
    api = Proc(["api", "--port", str(port)], service_env, tmp_path, "api").start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, api)
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(url + "/console")
        assert_chinese_glyphs_render(page)
        page.fill("#token", "tjk_wrong")
        page.click("#go")
        page.wait_for_selector("#signin-err:has-text('令牌无效')")
        page.fill("#token", token)
        page.click("#go")
        page.wait_for_selector(f"tr.row[data-no='{number}']")
        # contacts masked by default in the queue's detail
        page.click(f"tr.row[data-no='{number}']")
        page.wait_for_selector("#d-no")
        assert "139****5678" in (page.text_content("#detail") or "")
        assert "13912345678" not in (page.content())

        page.select_option("#f-type", "ux")
        page.click("#save-labels")
        page.wait_for_selector("#d-type:has-text('ux')")

        page.fill("#f-assignee", "小张")
        for to in ("已分派", "已确认", "处理中", "待客户确认"):
            page.click(f"button.move[data-to='{to}']")
            page.wait_for_selector(f"#d-state:has-text('{to}')")
        page.fill("#f-solution", "支付网关超时已修复")
        page.click("button.move[data-to='已完成']")
        page.wait_for_selector("#d-state:has-text('已完成')")
        events = page.text_content("#events") or ""
        assert "待客户确认 → 已完成" in events and "agent:小张" in events
        assert "type ux" in events or "→ux" in events.replace(" ", "")
        page.screenshot(path=str(tmp_path / "console.png"))
    finally:
        api.stop_quietly()
