"""One feedback from the web form through triage and the sink, then through
the ticket API (assign, acknowledge, resolve, 不满意 → reopened, resolve, 满意,
archive): the events, the handling time, and the webhook deliveries relayed
by the SLA clock and posted by the webhook sink."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from crm.store import TicketDesk
from tests.helpers import (
    Proc,
    count,
    env_with,
    free_port,
    kafka_for,
    start_consumers,
    wait_for,
    wait_healthy,
)
from tests.integration.test_webhook_sink import SECRET, Receiver


def _call(
    url: str, token: str, path: str, body: dict[str, object] | None = None
) -> dict[str, object]:
    req = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(req, timeout=15) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_feedback_to_archive_with_events_and_webhooks(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    kafka_for(service_env)
    receiver = Receiver()
    env = env_with(
        service_env,
        TINGJIAN_SLA_CLOCK__INTERVAL_S="0.5",
        TINGJIAN_SLA_CLOCK__METRICS_PORT="0",
        TINGJIAN_WEBHOOK__METRICS_PORT="0",
        TINGJIAN_WEBHOOK__GROUP_ID=f"{service_env['TINGJIAN_KAFKA__TOPIC_PREFIX']}hook",
        TINGJIAN_WEBHOOK__TARGETS=json.dumps(
            {"bot": {"url": receiver.url + "/ok", "secret": SECRET}}
        ),
    )
    web_port, api_port = free_port(), free_port()
    procs = [
        *start_consumers(env, tmp_path),
        Proc(["ingest", "web", "--port", str(web_port)], env, tmp_path, "web").start(),
        Proc(["api", "--port", str(api_port)], env, tmp_path, "api").start(),
        Proc(["sla", "watch"], env, tmp_path, "sla").start(),
        Proc(["sink", "webhook"], env, tmp_path, "webhook").start(),
    ]
    try:
        web, api = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{api_port}"
        wait_healthy(web, procs[2])
        wait_healthy(api, procs[3])
        req = urllib.request.Request(
            web + "/v1/feedback",
            data=json.dumps(
                {"text": "APP登录后一直闪退，无法下单", "contact": "13812345678"}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=15) as r:
            number = json.loads(r.read())["feedback_no"]
        dsn = env["TINGJIAN_POSTGRES__DSN"]
        wait_for(lambda: count(dsn, "SELECT count(*) FROM tickets") == 1, 60, "the ticket")
        desk = TicketDesk(dsn)
        token = desk.create_token("组长", "lead", None)
        desk.close()

        path = f"/v1/tickets/{number}"
        for body in (
            {"to": "已分派", "assignee": "小张"},
            {"to": "已确认"},
            {"to": "处理中"},
            {"to": "待客户确认"},
        ):
            _call(api, token, path + "/transition", body)
        t = _call(api, token, path + "/satisfaction", {"rating": "不满意"})
        assert t["state"] == "处理中"
        _call(api, token, path + "/transition", {"to": "待客户确认"})
        _call(api, token, path + "/transition", {"to": "已完成", "solution": "修复闪退"})
        _call(api, token, path + "/satisfaction", {"rating": "满意"})
        t = _call(api, token, path + "/transition", {"to": "已归档"})
        assert t["state"] == "已归档" and t["satisfaction"] == "满意"
        assert isinstance(t["handling_hours"], float)
        states = [e["to"] for e in t["events"] if e["kind"] == "state"]  # type: ignore[index,union-attr]
        assert states == [
            "新建",
            "已分派",
            "已确认",
            "处理中",
            "待客户确认",
            "待客户确认",
            "已完成",
            "已归档",
        ]

        def delivered() -> set[str]:
            return {json.loads(b)["kind"] for _, b in receiver.ok("/ok")}

        wait_for(
            lambda: (
                {"ticket.created", "ticket.state_changed", "ticket.satisfaction"} <= delivered()
            ),
            60,
            "webhook deliveries\n" + procs[5].log(),
        )
        keys = [h["Idempotency-Key"] for h, _ in receiver.ok("/ok")]
        assert len(keys) == len(set(keys))
        assert all("13812345678" not in b.decode() for _, b in receiver.ok("/ok"))
    finally:
        for p in procs:
            p.stop_quietly()
        receiver.server.shutdown()
