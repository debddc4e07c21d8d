"""``tingjian feed``: keys from content, 429 honoured, nothing thinned."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tingjian.tools import _feed_key, feed_file


def test_key_comes_from_content_or_id() -> None:
    a, b = '{"text": "闪退"}\n', '{"text": "卡顿"}\n'
    assert _feed_key(a) != _feed_key(b)
    assert _feed_key(a) == _feed_key(a.strip())
    assert _feed_key('{"id": 7, "text": "x"}') == _feed_key('{"id": "7", "text": "y"}')


def test_feed_retries_429_and_loses_no_line(tmp_path: Path) -> None:
    got: list[tuple[str, Any]] = []
    state = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state["n"] += 1
            if state["n"] % 3 == 0:  # every third request is throttled
                self.send_response(429)
                self.send_header("Retry-After", "0")
                self.end_headers()
                return
            got.append((self.headers["Idempotency-Key"], json.loads(body)))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        f = tmp_path / "fb.jsonl"
        f.write_text("".join(json.dumps({"text": f"问题{i}"}) + "\n" for i in range(20)))
        assert feed_file(str(f), f"http://127.0.0.1:{server.server_address[1]}/v1/feedback") == 0
    finally:
        server.shutdown()
    assert sorted(d["text"] for _, d in got) == sorted(f"问题{i}" for i in range(20))
    assert len({k for k, _ in got}) == 20
