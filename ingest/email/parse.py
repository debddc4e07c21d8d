"""One raw mail -> what the connector does with it. Pure, never raises.

Outcomes: ``accept`` (a FeedbackReceived), ``auto_reply``, ``bounce`` and
``bulk`` (newsletters, mailing lists: counted, never tickets), ``reject`` (with
its reason and detail; its raw bytes go to the dead-letter topic).

Limits bound the work, not the customer: past ``max_parts`` the walk stops,
past ``max_depth`` a branch is skipped, an over-long line or text is cut to
its head and its end; the text found is kept and flagged ``truncated``. A
``Date:`` that cannot be read falls back to the received time, flagged
``date_unparsed``.
"""

from __future__ import annotations

import email
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Literal, cast

from core.mailtext import html_to_text, strip_quotes_and_signature
from ingest.email.decode import decode_bytes, decode_header_value
from models import Attachment, Customer, FeedbackReceived
from models.contracts import MAX_TEXT_CHARS

Kind = Literal["accept", "auto_reply", "bounce", "bulk", "reject"]


@dataclass(frozen=True)
class MailLimits:
    max_bytes: int = 5 * 1024 * 1024
    max_parts: int = 100
    max_depth: int = 8


@dataclass(frozen=True)
class MailOutcome:
    kind: Kind
    reason: str = ""
    detail: str = ""
    item: FeedbackReceived | None = None
    message_id: str | None = None
    content_hash: str = ""
    flags: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "outcome": self.kind,
            "message_id": self.message_id,
            "content_hash": self.content_hash,
        }
        if self.kind != "accept":
            doc.update(reason=self.reason, detail=self.detail)
        if self.item is not None:
            doc["feedback"] = self.item.model_dump(mode="json")
        return doc


_AUTO_SUBJECT = re.compile(
    r"^\s*(自动回复|自動回覆|auto(matic)?[- ]?reply|out of (the )?office|休假|外出|不在办公室)\b",
    re.I,
)
_BOUNCE_FROM = re.compile(r"(mailer-daemon|postmaster|mail delivery (subsystem|system))", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"(undeliverable|delivery status notification|returned mail|退信|系统退信|投递失败|无法投递)",
    re.I,
)


def _header(msg: Message, name: str) -> str:
    # Raw 8-bit header bytes come back as a Header object, not a str.
    return decode_header_value(msg.get(name))[0] if msg.get(name) is not None else ""


def _classify_automatic(msg: Message, subject: str, sender: str) -> tuple[Kind, str] | None:
    ctype = msg.get_content_type()
    if ctype == "multipart/report":
        rtype = str(msg.get_param("report-type") or "").lower()
        return (
            ("bounce", f"multipart/report; report-type={rtype}")
            if rtype != "disposition-notification"
            else ("auto_reply", "read receipt")
        )
    if _BOUNCE_FROM.search(sender) or (
        _header(msg, "Return-Path").strip() == "<>" and _BOUNCE_SUBJECT.search(subject)
    ):
        return "bounce", f"from {sender or 'null sender'}"
    auto = _header(msg, "Auto-Submitted").strip().lower()
    prec = _header(msg, "Precedence").strip().lower()
    if auto != "auto-replied":
        # Newsletters and list mail are not customers' auto-replies: own kind, honest counts.
        if prec in ("bulk", "junk", "list"):
            return "bulk", f"Precedence: {prec}"
        for h in ("List-Unsubscribe", "List-Id"):
            if msg.get(h) is not None:
                return "bulk", f"{h} header"
    if auto and auto != "no":
        return "auto_reply", f"Auto-Submitted: {auto}"
    for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress-Reply"):
        if msg.get(h):
            return "auto_reply", f"{h}: {_header(msg, h)[:40]}"
    if msg.get("X-MS-Exchange-Inbox-Rules-Loop"):
        return "auto_reply", "X-MS-Exchange-Inbox-Rules-Loop (mail loop)"
    if prec == "auto_reply":
        return "auto_reply", f"Precedence: {prec}"
    if _AUTO_SUBJECT.search(subject):
        return "auto_reply", f"subject: {subject[:40]}"
    return None


@dataclass
class _Walk:
    limits: MailLimits
    parts: int = 0
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    suspect: bool = False
    # Why the walk was cut short (it stopped, what it found is kept), or None.
    problem: str | None = None
    stopped: bool = False


def _payload_text(part: Message, w: _Walk) -> str:
    try:
        data = part.get_payload(decode=True) or b""
    except Exception:  # broken transfer encoding: keep what can be read
        data = str(part.get_payload()).encode("latin-1", errors="replace")
        w.suspect = True
    assert isinstance(data, bytes)
    label = part.get_content_charset()
    if part.get_content_type() == "text/html" and not label:
        m = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", data[:4096], re.I)
        label = m.group(1).decode("ascii", "replace") if m else None
    text, suspect = decode_bytes(data, label)
    w.suspect |= suspect
    return text.replace("\ufeff", "")


def _walk(part: Message, w: _Walk, depth: int) -> None:
    if w.stopped:
        return
    w.parts += 1
    if w.parts > w.limits.max_parts:
        w.problem, w.stopped = f"more than {w.limits.max_parts} MIME parts", True
        return
    if depth > w.limits.max_depth:
        w.problem = f"MIME nesting deeper than {w.limits.max_depth}"  # skip this branch only
        return
    ctype = part.get_content_type()
    disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    if part.is_multipart():
        children = part.get_payload()
        assert isinstance(children, list)
        if ctype == "multipart/alternative":
            # Prefer text/plain over HTML; fall back to HTML when the text is empty.
            sub = _Walk(w.limits, parts=w.parts)
            for c in children:
                _walk(cast(Message, c), sub, depth + 1)
            w.parts, w.suspect, w.stopped = sub.parts, w.suspect or sub.suspect, sub.stopped
            w.problem = sub.problem or w.problem
            w.attachments += sub.attachments
            plain = "\n".join(t for t in sub.plain if t.strip())
            if plain.strip():
                w.plain.append(plain)
            else:
                w.html += sub.html
            return
        for c in children:
            _walk(cast(Message, c), w, depth + 1)
        return
    filename = part.get_filename()
    if disposition == "attachment" or filename or not ctype.startswith("text/"):
        name, s = decode_header_value(filename) if filename else ("", False)
        w.suspect |= s
        try:
            size = len(part.get_payload(decode=True) or b"")
        except Exception:
            size = 0
        w.attachments.append(Attachment(name=name or "(unnamed)", content_type=ctype, size=size))
        return
    text = _payload_text(part, w)
    (w.html if ctype == "text/html" else w.plain).append(text)


def _message_id(msg: Message) -> str | None:
    mid = (msg.get("Message-ID") or "").strip()
    m = re.search(r"<([^<>\s]+)>", mid)
    return m.group(1) if m else (mid or None)


# What is kept of one line and of the whole text: the head and the end, so that
# the customer's sentence after a pasted log or a base64 blob survives.
LINE_HEAD, LINE_TAIL = 3000, 1000
TEXT_TAIL = 8192
_CUT = " […] "
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_REPLY_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|aw|sv|回复|回覆|答复|答覆|转发|轉寄|转寄)\s*[:：]\s*)+", re.I
)
_NO_SUBJECT = {
    "无主题",
    "無主題",
    "(无主题)",
    "（无主题）",
    "no subject",
    "(no subject)",
    "untitled",
}


def _cap_lines(text: str) -> tuple[str, bool]:
    lines, cut = text.split("\n"), False
    for i, ln in enumerate(lines):
        if len(ln) > LINE_HEAD + LINE_TAIL + len(_CUT):
            lines[i], cut = ln[:LINE_HEAD] + _CUT + ln[-LINE_TAIL:], True
    return ("\n".join(lines), cut) if cut else (text, False)


def _cap_text(text: str) -> tuple[str, bool]:
    if len(text) <= MAX_TEXT_CHARS:
        return text, False
    head = MAX_TEXT_CHARS - TEXT_TAIL - len(_CUT)
    return text[:head] + _CUT + text[-TEXT_TAIL:], True


def _has_words(text: str) -> bool:
    return any(c.isalnum() for c in text)


def _meaningful_subject(subject: str) -> bool:
    rest = _REPLY_PREFIX.sub("", subject).strip()
    return _has_words(rest) and rest.lower() not in _NO_SUBJECT


def _sent_at(msg: Message) -> datetime | None:
    """The Date header, or None when it cannot be read (free text, out of range)."""
    value = _header(msg, "Date")
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def parse_mail(
    raw: bytes, limits: MailLimits | None = None, *, mailbox: str = "INBOX"
) -> MailOutcome:
    try:
        return _parse_mail(raw, limits or MailLimits(), mailbox)
    except Exception as exc:  # never raises: a mail we cannot read is a reject, not a crash
        return MailOutcome(
            "reject",
            "unparseable",
            f"{type(exc).__name__}: {exc}"[:300],
            content_hash=hashlib.sha256(raw).hexdigest(),
        )


def _parse_mail(raw: bytes, limits: MailLimits, mailbox: str) -> MailOutcome:
    content_hash = hashlib.sha256(raw).hexdigest()
    if len(raw) > limits.max_bytes:
        return MailOutcome(
            "reject",
            "too_large",
            f"{len(raw)} bytes > limit {limits.max_bytes}",
            content_hash=content_hash,
        )
    if not raw.strip():
        return MailOutcome("reject", "empty", "no bytes", content_hash=content_hash)
    try:
        msg = email.message_from_bytes(raw)
    except Exception as exc:  # the stdlib parser is lenient; this is belt and braces
        return MailOutcome(
            "reject", "unparseable", f"{type(exc).__name__}: {exc}", content_hash=content_hash
        )
    if not msg.keys():
        return MailOutcome("reject", "unparseable", "no mail headers", content_hash=content_hash)
    mid = _message_id(msg)
    subject, s1 = decode_header_value(msg.get("Subject"))
    from_raw, s2 = decode_header_value(msg.get("From"))
    addrs = getaddresses([from_raw])
    name, addr = addrs[0] if addrs else ("", "")
    auto = _classify_automatic(msg, subject, f"{name} <{addr}>")
    if auto:
        return MailOutcome(auto[0], auto[0], auto[1], message_id=mid, content_hash=content_hash)
    w = _Walk(limits)
    try:
        _walk(msg, w, 0)
    except Exception as exc:
        return MailOutcome(
            "reject",
            "unparseable",
            f"{type(exc).__name__}: {exc}",
            message_id=mid,
            content_hash=content_hash,
        )
    body = "\n".join(t for t in w.plain if t.strip()) or "\n".join(
        html_to_text(h) for h in w.html if h.strip()
    )
    # Lines are capped before the quote and signature rules run: that bounds their work too.
    body, cut_line = _cap_lines(_INVISIBLE.sub("", body.replace("\r\n", "\n")))
    own = strip_quotes_and_signature(body).strip()
    if not _has_words(own):
        own = ""
    if not own and w.problem:
        # The limits stopped the walk before any text: the body may hold the
        # customer's words, so the raw mail goes to the dead letters, not a ticket.
        return MailOutcome(
            "reject", "mime_limits", w.problem, message_id=mid, content_hash=content_hash
        )
    if not own and not _meaningful_subject(subject):
        return MailOutcome(
            "reject",
            "empty",
            f"no text in the body and no subject ({w.parts} MIME parts, "
            f"{len(w.attachments)} attachments)",
            message_id=mid,
            content_hash=content_hash,
        )
    flags = ["charset_suspect"] if (w.suspect or s1 or s2) else []
    own, cut_text = _cap_text(own)
    if cut_line or cut_text or w.problem:
        flags.append("truncated")
    received_at = datetime.now(UTC)
    when = _sent_at(msg) if msg.get("Date") is not None else None
    meta = {"mailbox": mailbox, "content_sha256": content_hash}
    if w.problem:
        meta["truncated_reason"] = w.problem
    if when:
        meta["sent_at"] = when.isoformat()
    elif msg.get("Date") is not None:
        meta["sent_at"] = received_at.isoformat()
        flags.append("date_unparsed")
    if own != body.strip():
        meta["quoted_removed"] = "true"
    item = FeedbackReceived(
        channel="email",
        # Message-ID survives a re-fetch and a UIDVALIDITY change; mail without
        # one is identified by its bytes.
        source_id=(mid or f"sha256:{content_hash}")[:512],
        received_at=received_at,
        subject=subject[:1000] or None,
        text=own or subject,
        customer=Customer(name=name[:200] or None, email=addr[:320] or None),
        attachments=tuple(w.attachments),
        metadata=meta,
        flags=tuple(flags),
    )
    return MailOutcome(
        "accept", item=item, message_id=mid, content_hash=content_hash, flags=tuple(flags)
    )
