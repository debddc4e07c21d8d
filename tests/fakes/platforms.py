"""A local HTTP server speaking the documented response shapes of the Weibo
comments API, the WeChat official-account comment API and a generic review
feed, with scripted faults (429 + Retry-After, 5xx, malformed JSON, expired
token, empty page). The real platforms cannot be reached from here."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


class FakePlatforms:
    def __init__(self, token: str = "good-token") -> None:
        self.token = token
        self.weibo: dict[str, list[dict[str, Any]]] = {}
        self.wechat: dict[str, list[dict[str, Any]]] = {}
        self.feed: list[dict[str, Any]] = []
        self.faults: deque[tuple[int, dict[str, str], bytes]] = deque()
        self.delay_s = 0.0
        self.requests = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakePlatforms:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- data --------------------------------------------------------------------------

    def add_weibo(self, status: str, n: int, start: int = 0) -> None:
        with self._lock:
            lst = self.weibo.setdefault(status, [])
            for i in range(start, start + n):
                cid = 4_900_000_000_000_000 + int(status) * 100_000 + i
                lst.append(
                    {
                        "created_at": (T0 + timedelta(minutes=i)).strftime(
                            "%a %b %d %H:%M:%S +0800 %Y"
                        ),
                        "id": cid,
                        "idstr": str(cid),
                        "mid": str(cid),
                        "text": f"第{i}条评论：你们的APP又闪退了，订单{status}-{i}付款失败",
                        "source": '<a href="https://weibo.com/">微博 weibo.com</a>',
                        "user": {
                            "id": 1_000_000 + i,
                            "idstr": str(1_000_000 + i),
                            "screen_name": f"网友{i}",
                        },
                        "status": {"id": int(status), "idstr": status},
                    }
                )

    def add_wechat(self, thread: str, n: int) -> None:
        with self._lock:
            lst = self.wechat.setdefault(thread, [])
            base = len(lst)
            for i in range(base, base + n):
                lst.append(
                    {
                        "user_comment_id": i + 1,
                        "openid": f"oOPENID{i:05d}",
                        "create_time": int((T0 + timedelta(minutes=i)).timestamp()),
                        "content": f"公众号留言{i}：客服电话一直打不通",
                        "comment_type": 0,
                    }
                )

    # -- server ------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _send(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = (
                    body
                    if isinstance(body, bytes)
                    else json.dumps(body, ensure_ascii=False).encode()
                )
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _fault(self) -> bool:
                fake.requests += 1
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                with fake._lock:
                    f = fake.faults.popleft() if fake.faults else None
                if f:
                    self._send(f[0], f[2], f[1])
                    return True
                return False

            def do_GET(self) -> None:
                if self._fault():
                    return
                u = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                if u.path == "/2/comments/show.json":
                    if q.get("access_token") != fake.token:
                        return self._send(
                            403, {"error": "expired_token", "error_code": 21327, "request": u.path}
                        )
                    since, count, page = (
                        int(q.get("since_id", 0)),
                        int(q.get("count", 50)),
                        int(q.get("page", 1)),
                    )
                    with fake._lock:
                        items = [c for c in fake.weibo.get(q.get("id", ""), []) if c["id"] > since]
                    items.sort(key=lambda c: -c["id"])  # newest first, as Weibo returns them
                    chunk = items[(page - 1) * count : page * count]
                    return self._send(
                        200,
                        {
                            "comments": chunk,
                            "hasvisible": False,
                            "previous_cursor": 0,
                            "next_cursor": 0,
                            "total_number": len(items),
                        },
                    )
                if u.path == "/reviews":
                    if self.headers.get("Authorization") != f"Bearer {fake.token}":
                        return self._send(401, {"message": "token expired"})
                    start, count = int(q.get("cursor", 0)), int(q.get("count", 20))
                    chunk = fake.feed[start : start + count]
                    nxt = start + len(chunk)
                    return self._send(
                        200,
                        {
                            "data": {"reviews": chunk},
                            "paging": {"next": nxt if nxt < len(fake.feed) else None},
                        },
                    )
                self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                if self._fault():
                    return
                u = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                if u.path == "/cgi-bin/comment/list":
                    if q.get("access_token") != fake.token:
                        return self._send(200, {"errcode": 42001, "errmsg": "access_token expired"})
                    body = json.loads(
                        self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}"
                    )
                    thread = f"{body['msg_data_id']}:{body.get('index', 0)}"
                    with fake._lock:
                        items = list(fake.wechat.get(thread, []))
                    begin, count = int(body.get("begin", 0)), int(body.get("count", 50))
                    return self._send(
                        200,
                        {
                            "errcode": 0,
                            "errmsg": "ok",
                            "total": len(items),
                            "comment": items[begin : begin + count],
                        },
                    )
                self._send(404, {"error": "not found"})

        return H
