"""Each connector survives SIGKILL mid-stream: after a restart every item is a
ticket exactly once (no loss, no duplicate)."""

from __future__ import annotations

import imaplib
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import psycopg

from tests.conftest import IMAP
from tests.helpers import TEMPLATES, Proc, count, env_with, start_consumers, wait_for


def _mail(n: int) -> bytes:
    m = EmailMessage()
    m["From"] = f"客户{n} <c{n}@example.com>"
    m["To"] = "service@shop.example"
    m["Subject"] = f"反馈 {n}"
    m["Message-ID"] = make_msgid(f"k{n}", "kill.test")
    m.set_content(TEMPLATES[n % len(TEMPLATES)].format(n=n))
    return bytes(m)


def test_email_connector_sigkill_restart(
    service_env: dict[str, str], tmp_path: Path, imap_mailbox: str
) -> None:
    total = 150
    conn = imaplib.IMAP4(IMAP[0], IMAP[1], timeout=10)
    conn.login(IMAP[2], IMAP[3])
    for n in range(total):
        conn.append(imap_mailbox, None, None, _mail(n))
    conn.logout()
    env = env_with(
        service_env,
        TINGJIAN_EMAIL__MAILBOX=imap_mailbox,
        TINGJIAN_EMAIL__BATCH_SIZE="3",
        TINGJIAN_EMAIL__POLL_INTERVAL_S="0.2",
    )
    dsn = env["TINGJIAN_POSTGRES__DSN"]
    procs = start_consumers(env, tmp_path)
    email = Proc(["ingest", "email", "--metrics-port", "0"], env, tmp_path, "email").start()
    try:
        progress = lambda: count(dsn, "SELECT count(*) FROM ingest_seen")  # noqa: E731
        wait_for(lambda: progress() >= 30, 60, f"email progress\n{email.log()}")
        email.kill()
        assert progress() < 2 * total, "the kill came too late to test anything"
        email = Proc(["ingest", "email", "--metrics-port", "0"], env, tmp_path, "email2").start()
        wait_for(
            lambda: count(dsn, "SELECT count(*) FROM tickets") >= total,
            120,
            f"all tickets\n{email.log()}",
        )
        time.sleep(2)
        with psycopg.connect(dsn) as c:
            n, distinct = c.execute(
                "SELECT count(*), count(DISTINCT source_id) FROM tickets"
            ).fetchone()
        assert n == distinct == total
    finally:
        email.stop_quietly()
        for p in procs:
            p.stop_quietly()


def test_bulk_import_sigkill_then_rerun(service_env: dict[str, str], tmp_path: Path) -> None:
    import csv

    total = 3000
    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["编号", "反馈内容", "客户姓名", "联系电话", "提交时间"])
        for n in range(total):
            w.writerow(
                [
                    f"R{n}",
                    TEMPLATES[n % len(TEMPLATES)].format(n=n),
                    f"客户{n}",
                    f"136{n:08d}",
                    "2026/11/20 10:30",
                ]
            )
    dsn = service_env["TINGJIAN_POSTGRES__DSN"]
    procs = start_consumers(service_env, tmp_path)
    try:
        imp = Proc(
            ["import", str(path), "--mapping", "generic"], service_env, tmp_path, "import"
        ).start()
        imported = lambda: count(dsn, "SELECT count(*) FROM ingest_seen WHERE connector = 'import'")  # noqa: E731
        wait_for(lambda: imported() >= 500 or not imp.alive(), 60, f"import progress\n{imp.log()}")
        imp.kill()
        assert imported() < total, "the kill came too late to test anything"
        rerun = Proc(
            ["import", str(path), "--mapping", "generic"], service_env, tmp_path, "import2"
        ).start()
        assert rerun.p is not None and rerun.p.wait(120) == 0, rerun.log()
        assert "already imported" in rerun.log()
        wait_for(lambda: count(dsn, "SELECT count(*) FROM tickets") >= total, 120, "all tickets")
        time.sleep(2)
        with psycopg.connect(dsn) as c:
            n, distinct = c.execute(
                "SELECT count(*), count(DISTINCT source_id) FROM tickets"
            ).fetchone()
        assert n == distinct == total
    finally:
        for p in procs:
            p.stop_quietly()


def test_social_connector_sigkill_restart(service_env: dict[str, str], tmp_path: Path) -> None:
    from tests.fakes.platforms import FakePlatforms

    fake = FakePlatforms().start()
    threads = [str(100 + i) for i in range(5)]
    for t in threads:
        fake.add_weibo(t, 200)
    fake.delay_s = 0.03
    cfg = tmp_path / "social.yaml"
    cfg.write_text(
        "social:\n  weibo:\n    adapter: weibo\n"
        f"    base_url: {fake.url}\n    access_token: good-token\n    threads: {threads}\n"
        "    page_size: 20\n    poll_interval_s: 0.5\n",
        encoding="utf-8",
    )
    env = env_with(service_env, TINGJIAN_CONFIG=str(cfg))
    dsn = env["TINGJIAN_POSTGRES__DSN"]
    total = 1000
    procs = start_consumers(env, tmp_path)
    social = Proc(
        ["ingest", "social", "--source", "weibo", "--metrics-port", "0"], env, tmp_path, "social"
    ).start()
    try:

        def committed() -> int:
            return count(dsn, "SELECT count(*) FROM ingest_seen WHERE connector = 'social:weibo'")

        wait_for(lambda: committed() >= 200, 60, f"social progress\n{social.log()}")
        social.kill()
        assert committed() < total, "the kill came too late to test anything"
        social = Proc(
            ["ingest", "social", "--source", "weibo", "--metrics-port", "0"],
            env,
            tmp_path,
            "social2",
        ).start()
        wait_for(
            lambda: (
                count(dsn, "SELECT count(*) FROM tickets")
                + count(dsn, "SELECT count(*) FROM ticket_feedback WHERE merged")
                >= total
            ),
            120,
            f"all items\n{social.log()}",
        )
        time.sleep(2)
        with psycopg.connect(dsn) as c:
            n, distinct = c.execute(
                "SELECT count(*), count(DISTINCT source_id) FROM ticket_feedback"
            ).fetchone()
        assert n == distinct == total
    finally:
        social.stop_quietly()
        for p in procs:
            p.stop_quietly()
        fake.stop()


def test_web_connector_sigkill_restart_with_client_retries(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    import http.client
    import json
    import threading
    import urllib.error
    import urllib.request

    from tests.helpers import free_port

    total = 300
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/feedback"
    dsn = service_env["TINGJIAN_POSTGRES__DSN"]
    answers: dict[int, str] = {}

    def client() -> None:
        # What a well-behaved client does: retry the same Idempotency-Key until 202.
        deadline = time.monotonic() + 120
        for n in range(total):
            body = json.dumps(
                {"text": TEMPLATES[n % len(TEMPLATES)].format(n=n), "contact": f"135{n:08d}"}
            ).encode()
            while time.monotonic() < deadline:
                req = urllib.request.Request(
                    url,
                    data=body,
                    headers={"Content-Type": "application/json", "Idempotency-Key": f"kill-{n}"},
                )
                try:
                    with urllib.request.urlopen(req, timeout=10) as r:
                        answers[n] = json.loads(r.read())["feedback_no"]
                        break
                except (
                    urllib.error.URLError,
                    ConnectionError,
                    TimeoutError,
                    # the kill can land mid-response: a truncated body is a retry too
                    http.client.HTTPException,
                    ValueError,
                ):
                    time.sleep(0.1)

    procs = start_consumers(service_env, tmp_path)
    web = Proc(["ingest", "web", "--port", str(port)], service_env, tmp_path, "web").start()
    th = threading.Thread(target=client, daemon=True)
    try:
        th.start()
        wait_for(lambda: len(answers) >= 100, 60, f"100 accepted posts\n{web.log()}")
        web.kill()
        assert len(answers) < total, "the kill came too late to test anything"
        web = Proc(["ingest", "web", "--port", str(port)], service_env, tmp_path, "web2").start()
        th.join(150)
        assert len(answers) == total
        wait_for(lambda: count(dsn, "SELECT count(*) FROM tickets") >= total, 120, "all tickets")
        time.sleep(2)
        with psycopg.connect(dsn) as c:
            rows = c.execute("SELECT ticket_no, customer_phone FROM tickets").fetchall()
        assert len(rows) == total
        by_phone = {phone: no for no, phone in rows}
        # the number each customer was told is the number of their ticket
        assert all(by_phone[f"135{n:08d}"] == answers[n] for n in range(total))
    finally:
        web.stop_quietly()
        for p in procs:
            p.stop_quietly()


def test_pull_connectors_stop_cleanly_on_sigterm(
    service_env: dict[str, str], tmp_path: Path, imap_mailbox: str
) -> None:
    from tests.fakes.platforms import FakePlatforms

    fake = FakePlatforms().start()
    fake.add_weibo("7", 5)
    cfg = tmp_path / "social.yaml"
    cfg.write_text(
        f"social:\n  weibo:\n    adapter: weibo\n    base_url: {fake.url}\n    access_token: good-token\n    threads: ['7']\n",
        encoding="utf-8",
    )
    env = env_with(service_env, TINGJIAN_CONFIG=str(cfg), TINGJIAN_EMAIL__MAILBOX=imap_mailbox)
    dsn = env["TINGJIAN_POSTGRES__DSN"]
    conn = imaplib.IMAP4(IMAP[0], IMAP[1], timeout=10)
    conn.login(IMAP[2], IMAP[3])
    conn.append(imap_mailbox, None, None, _mail(0))
    conn.logout()
    email = Proc(["ingest", "email", "--metrics-port", "0"], env, tmp_path, "email").start()
    social = Proc(
        ["ingest", "social", "--source", "weibo", "--metrics-port", "0"], env, tmp_path, "social"
    ).start()
    try:
        wait_for(
            lambda: count(dsn, "SELECT count(*) FROM ingest_checkpoints") >= 2,
            60,
            f"both polled\n{email.log()}\n{social.log()}",
        )
        for p in (email, social):
            started = time.monotonic()
            assert p.terminate(timeout=10) == 0, p.log()
            assert time.monotonic() - started < 10
    finally:
        email.stop_quietly()
        social.stop_quietly()
        fake.stop()
