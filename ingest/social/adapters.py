"""Platform adapters: how to ask for a page of comments and how to read the
answer. Pure: no I/O here, the poller does the HTTP.

- ``weibo``: GET {base}/2/comments/show.json?id=&since_id=&count=&page=
  -> {"comments": [...], "total_number", "next_cursor"}; errors
  {"error", "error_code"} (21327 expired_token, 21332 invalid_access_token).
- ``wechat``: POST {base}/cgi-bin/comment/list?access_token=
  {"msg_data_id", "index", "begin", "count", "type": 0}
  -> {"errcode": 0, "total", "comment": [{"user_comment_id", "openid",
  "create_time", "content"}]}; errcode 42001 / 40001 / 40014 = token problems.
- ``generic``: any JSON feed (Douyin, e-commerce or app-store reviews) by
  field mapping in configuration.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from config.settings import SocialSourceSettings
from core.errors import SourceError


class PlatformError(SourceError):
    """Base of what a platform can answer besides a page."""


class TokenExpired(PlatformError):
    pass


class Throttled(PlatformError):
    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Transient(PlatformError):
    pass


class Malformed(PlatformError):
    pass


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Comment:
    id: str
    text: str
    created_at: datetime
    author: str | None
    author_id: str | None
    thread: str  # the post / article the comment belongs to


@dataclass(frozen=True)
class Page:
    comments: list[Comment]
    next_page: Any | None  # None: this thread is done for this poll


class Adapter(Protocol):
    def threads(self) -> list[str]: ...

    def request(self, thread: str, cursor: dict[str, Any], page: Any | None) -> Request: ...

    def parse(
        self, thread: str, cursor: dict[str, Any], page: Any | None, status: int, body: bytes
    ) -> Page: ...

    def advance(
        self, cursor: dict[str, Any], comments: list[Comment], last_page: Any | None
    ) -> dict[str, Any]: ...


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"response is not JSON: {exc}") from exc


def _http_errors(status: int) -> None:
    if status == 429:
        raise Throttled("HTTP 429", None)
    if status >= 500:
        raise Transient(f"HTTP {status}")


class WeiboAdapter:
    TOKEN_CODES = frozenset({21314, 21315, 21316, 21317, 21319, 21327, 21332})

    def __init__(self, cfg: SocialSourceSettings) -> None:
        self.cfg = cfg

    def threads(self) -> list[str]:
        return list(self.cfg.threads)

    def request(self, thread: str, cursor: dict[str, Any], page: Any | None) -> Request:
        q = {
            "access_token": self.cfg.access_token,
            "id": thread,
            "since_id": cursor.get("since_id", 0),
            "count": self.cfg.page_size,
            "page": page or 1,
        }
        return Request("GET", f"{self.cfg.base_url}/2/comments/show.json?{urlencode(q)}")

    def parse(
        self, thread: str, cursor: dict[str, Any], page: Any | None, status: int, body: bytes
    ) -> Page:
        if status != 200:
            try:
                doc = _json(body)
            except Malformed:
                doc = {}
            if isinstance(doc, dict) and doc.get("error_code") in self.TOKEN_CODES:
                raise TokenExpired(f"weibo: {doc.get('error')} ({doc.get('error_code')})")
            _http_errors(status)
            raise Transient(f"weibo: HTTP {status}: {str(doc)[:200]}")
        doc = _json(body)
        if not isinstance(doc, dict) or not isinstance(doc.get("comments"), list):
            raise Malformed("weibo: no 'comments' list in the response")
        out = []
        for c in doc["comments"]:
            try:
                created = parsedate_to_datetime(c["created_at"])  # "Wed Jun 01 00:50:25 +0800 2011"
            except (KeyError, TypeError, ValueError):
                created = _weibo_date(c.get("created_at"))
            user = c.get("user") or {}
            out.append(
                Comment(
                    str(c.get("idstr") or c["id"]),
                    str(c.get("text", "")),
                    created,
                    user.get("screen_name"),
                    str(user.get("id")) if user.get("id") else None,
                    thread,
                )
            )
        p = int(page or 1)
        total = int(doc.get("total_number") or 0)
        more = bool(out) and p * self.cfg.page_size < total and p < self.cfg.max_pages
        return Page(out, p + 1 if more else None)

    def advance(
        self, cursor: dict[str, Any], comments: list[Comment], last_page: Any | None
    ) -> dict[str, Any]:
        ids = [int(c.id) for c in comments if c.id.isdigit()]
        return {**cursor, "since_id": max([int(cursor.get("since_id", 0)), *ids])}


def _weibo_date(value: Any) -> datetime:
    try:
        return datetime.strptime(str(value), "%a %b %d %H:%M:%S %z %Y")
    except ValueError as exc:
        raise Malformed(f"weibo: bad created_at {value!r}") from exc


class WechatAdapter:
    TOKEN_CODES = frozenset({40001, 40014, 42001, 42007})

    def __init__(self, cfg: SocialSourceSettings) -> None:
        self.cfg = cfg

    def threads(self) -> list[str]:
        return list(self.cfg.threads)  # "msg_data_id:index"

    def request(self, thread: str, cursor: dict[str, Any], page: Any | None) -> Request:
        msg_id, _, index = thread.partition(":")
        begin = int(page if page is not None else cursor.get("begin", 0))
        body = {
            "msg_data_id": int(msg_id),
            "index": int(index or 0),
            "begin": begin,
            "count": self.cfg.page_size,
            "type": 0,
        }
        return Request(
            "POST",
            f"{self.cfg.base_url}/cgi-bin/comment/list?{urlencode({'access_token': self.cfg.access_token})}",
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )

    def parse(
        self, thread: str, cursor: dict[str, Any], page: Any | None, status: int, body: bytes
    ) -> Page:
        _http_errors(status)
        if status != 200:
            raise Transient(f"wechat: HTTP {status}")
        doc = _json(body)
        if not isinstance(doc, dict):
            raise Malformed("wechat: response is not an object")
        code = doc.get("errcode", 0)
        if code in self.TOKEN_CODES:
            raise TokenExpired(f"wechat: {doc.get('errmsg')} ({code})")
        if code == 45009:  # api freq out of limit
            raise Throttled("wechat: 45009 api freq out of limit", None)
        if code not in (0, None):
            raise Transient(f"wechat: errcode {code}: {doc.get('errmsg')}")
        items = doc.get("comment")
        if not isinstance(items, list):
            raise Malformed("wechat: no 'comment' list in the response")
        out = [
            Comment(
                f"{thread}:{c['user_comment_id']}",
                str(c.get("content", "")),
                datetime.fromtimestamp(int(c.get("create_time", 0)), UTC),
                None,
                c.get("openid"),
                thread,
            )
            for c in items
        ]
        begin = int(page if page is not None else cursor.get("begin", 0)) + len(out)
        total = int(doc.get("total") or 0)
        return Page(out, begin if out and begin < total else None)

    def advance(
        self, cursor: dict[str, Any], comments: list[Comment], last_page: Any | None
    ) -> dict[str, Any]:
        return {**cursor, "begin": int(cursor.get("begin", 0)) + len(comments)}


def _path(doc: Any, path: str) -> Any:
    for part in path.split(".") if path else []:
        if isinstance(doc, dict):
            doc = doc.get(part)
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return None
    return doc


class GenericAdapter:
    """Configured by field paths: another platform is configuration, not code."""

    def __init__(self, cfg: SocialSourceSettings) -> None:
        self.cfg = cfg
        self.m = cfg.mapping

    def threads(self) -> list[str]:
        return list(self.cfg.threads) or [""]

    def request(self, thread: str, cursor: dict[str, Any], page: Any | None) -> Request:
        q: dict[str, Any] = {self.m.page_size_param: self.cfg.page_size}
        if thread and self.m.thread_param:
            q[self.m.thread_param] = thread
        token = page if page is not None else cursor.get("cursor")
        if token is not None:
            q[self.m.cursor_param] = token
        headers = (
            {"Authorization": f"Bearer {self.cfg.access_token}"} if self.cfg.access_token else {}
        )
        return Request("GET", f"{self.cfg.base_url}?{urlencode(q)}", None, headers)

    def parse(
        self, thread: str, cursor: dict[str, Any], page: Any | None, status: int, body: bytes
    ) -> Page:
        if status in (401, 403):
            raise TokenExpired(f"{self.cfg.adapter}: HTTP {status} (token expired or revoked)")
        _http_errors(status)
        if status != 200:
            raise Transient(f"HTTP {status}")
        doc = _json(body)
        items = _path(doc, self.m.items_path)
        if not isinstance(items, list):
            raise Malformed(f"no list at {self.m.items_path!r}")
        out = []
        for it in items:
            cid, text = _path(it, self.m.id_path), _path(it, self.m.text_path)
            if cid is None or text is None:
                raise Malformed(f"item without {self.m.id_path!r} or {self.m.text_path!r}")
            raw_when = _path(it, self.m.created_at_path) if self.m.created_at_path else None
            when = _generic_date(raw_when)
            out.append(
                Comment(
                    str(cid), str(text), when, _opt(_path(it, self.m.author_path)), None, thread
                )
            )
        nxt = _path(doc, self.m.next_cursor_path) if self.m.next_cursor_path else None
        return Page(out, nxt if out and nxt not in (None, "", 0) else None)

    def advance(
        self, cursor: dict[str, Any], comments: list[Comment], last_page: Any | None
    ) -> dict[str, Any]:
        # Resume from the last page fetched: it is fetched again next time and
        # its items are recognised by the seen-set; newer items follow it.
        return {**cursor, "cursor": last_page} if last_page is not None else cursor


def _opt(v: Any) -> str | None:
    return None if v is None else str(v)


def _generic_date(v: Any) -> datetime:
    if v is None:
        return datetime.now(UTC)
    if isinstance(v, int | float):
        return datetime.fromtimestamp(v / 1000 if v > 1e11 else v, UTC)
    try:
        dt = datetime.fromisoformat(str(v))
    except ValueError as exc:
        raise Malformed(f"bad date {v!r}") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def build_adapter(cfg: SocialSourceSettings) -> Adapter:
    kinds: dict[str, Callable[[SocialSourceSettings], Adapter]] = {
        "weibo": WeiboAdapter,
        "wechat": WechatAdapter,
        "generic": GenericAdapter,
    }
    return kinds[cfg.adapter](cfg)
