"""Text normalisation for the models. Pure functions; the original text is never
modified (the caller keeps it beside the result).

Steps: HTML to text, quoted replies and signatures removed, Traditional to
Simplified (OpenCC), full-width to half-width (NFKC), and typed placeholders for
URLs, emails, phones, order numbers and amounts, whose values are returned as
extracted entities (phones and emails masked: entities travel further than the
store).
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser

from tingjian.privacy import mask_email, mask_phone


@dataclass(frozen=True)
class Normalized:
    text: str  # readable, cleaned text (Simplified, half-width), values kept
    model_text: str  # same with typed placeholders, what the classifiers see
    entities: dict[str, tuple[str, ...]] = field(default_factory=dict)


@lru_cache(maxsize=1)
def _t2s() -> object:
    import opencc  # imported lazily: loading the dictionaries costs ~50 ms

    # tw2sp also converts Taiwan phrasing (軟體->软件, 帳號->账号) that plain t2s keeps.
    return opencc.OpenCC("tw2sp")


def to_simplified(text: str) -> str:
    return _t2s().convert(text)  # type: ignore[attr-defined,no-any-return]


# --- HTML -------------------------------------------------------------------

_HTML_HINT = re.compile(r"<\s*(html|body|div|p|br|span|table|td|font|a|b|img)\b", re.I)
_BLOCK_TAGS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "blockquote", "table"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self.quote_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip += 1
        elif tag == "blockquote":
            # Quoted replies in HTML mail live in blockquotes: not the customer's words.
            self.quote_depth += 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip = max(0, self._skip - 1)
        elif tag == "blockquote":
            self.quote_depth = max(0, self.quote_depth - 1)
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip and not self.quote_depth:
            self.parts.append(data)


def html_to_text(text: str) -> str:
    if not _HTML_HINT.search(text):
        return html.unescape(text) if "&" in text else text
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    out = "".join(parts for parts in parser.parts)
    return re.sub(r"[ \t\r\f\v]+", " ", re.sub(r"\n\s*\n+", "\n", out)).strip()


# --- quoted replies and signatures ------------------------------------------

# A line that starts the quoted part of a reply: everything from it on is dropped.
_QUOTE_START = re.compile(
    r"^\s*("
    r"-{2,}\s*原始邮件\s*-{2,}"  # QQ Mail
    r"|-{2,}\s*Original Message\s*-{2,}"
    r"|-{2,}\s*Forwarded message\s*-{2,}"
    r"|-{2,}\s*转发的邮件\s*-{2,}"
    r"|在\s*\S.{0,80}写道\s*[:：]?\s*$"  # 163 / 126: 在 2023-10-01 10:00，xx 写道：
    r"|于\s*\S.{0,80}写道\s*[:：]?\s*$"
    r"|On\s.{1,200}\swrote\s*:\s*$"  # English clients
    r"|(发件人|From)\s*[:：].*$"  # Outlook header block
    r")",
    re.I | re.M,
)
_SIGNATURE = re.compile(
    r"^\s*("
    r"--\s*$"
    r"|发自我的\s*(iPhone|iPad|手机|华为|小米|荣耀|OPPO|vivo).*"
    r"|来自我的.{0,12}(手机|iPhone).*"
    r"|发自(网易邮箱大师|QQ邮箱|手机QQ邮箱|Outlook|移动版Outlook).*"
    r"|Sent from my\s.*"
    r"|Get Outlook for\s.*"
    r")$",
    re.I | re.M,
)


def strip_quotes_and_signature(text: str) -> str:
    m = _QUOTE_START.search(text)
    if m and text[: m.start()].strip():  # never strip a mail down to nothing
        text = text[: m.start()]
    sig = _SIGNATURE.search(text)
    if sig and text[: sig.start()].strip():
        text = text[: sig.start()]
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith(">")]
    return "\n".join(lines).strip() or text.strip()


# --- placeholders -----------------------------------------------------------

_URL = re.compile(r"https?://[^\s<>\"'，。！？）)]+|www\.[^\s<>\"'，。！？）)]+", re.I)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\dA-Za-z])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
_ORDER = re.compile(r"(?<![A-Za-z\d])(?:[A-Z]{1,4}\d{8,}|\d{10,})(?![A-Za-z\d])")
_AMOUNT = re.compile(
    r"(?:[¥￥]\s*\d+(?:,\d{3})*(?:\.\d+)?|\d+(?:,\d{3})*(?:\.\d+)?\s*(?:元|块钱|块|rmb|RMB|人民币))"
)

PLACEHOLDERS = {"url": " URL ", "email": " EMAIL ", "phone": " PHONE ", "order": " ORDERNO "}


def _extract(pattern: re.Pattern[str], text: str, kind: str, found: dict[str, list[str]]) -> str:
    def repl(m: re.Match[str]) -> str:
        found.setdefault(kind, []).append(m.group(0))
        return PLACEHOLDERS.get(kind, m.group(0))

    return pattern.sub(repl, text)


def normalize(text: str, subject: str | None = None) -> Normalized:
    body = strip_quotes_and_signature(html_to_text(text))
    if subject and subject.strip() and subject.strip() not in body:
        body = f"{subject.strip()}\n{body}"
    readable = unicodedata.normalize("NFKC", to_simplified(body))
    readable = re.sub(r"[ \t\u3000]+", " ", readable).strip()

    found: dict[str, list[str]] = {}
    model = _extract(_URL, readable, "url", found)
    model = _extract(_EMAIL, model, "email", found)
    model = _extract(_PHONE, model, "phone", found)
    model = _extract(_ORDER, model, "order", found)
    for m in _AMOUNT.finditer(model):
        found.setdefault("amount", []).append(m.group(0).strip())
    entities = {k: tuple(dict.fromkeys(v)) for k, v in found.items()}
    if "phone" in entities:
        entities["phone"] = tuple(mask_phone(p) for p in entities["phone"])
    if "email" in entities:
        entities["email"] = tuple(mask_email(e) for e in entities["email"])
    return Normalized(
        text=readable, model_text=re.sub(r" {2,}", " ", model).strip(), entities=entities
    )
