"""Mail text: HTML to text, quoted replies and signatures removed. Pure.

Both the email connector (the body it keeps) and triage (what it classifies,
for any channel that pastes a mail) need the same rules, so they live here.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

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
    r"^[ \t\u3000\xa0]*("
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
    r"^[ \t\u3000\xa0]*("
    r"--[ \t]*$"
    r"|发自我的\s*(iPhone|iPad|手机|华为|小米|荣耀|OPPO|vivo).*"
    r"|来自我的.{0,12}(手机|iPhone).*"
    r"|发自(网易邮箱大师|QQ邮箱|手机QQ邮箱|Outlook|移动版Outlook).*"
    r"|Sent from my\s.*"
    r"|Get Outlook for\s.*"
    r")$",
    re.I | re.M,
)


# Confidentiality notices corporate gateways append (Chinese and English): a
# paragraph that is boilerplate, never the customer's words.
_DISCLAIMER = re.compile(
    r"^[ \t\u3000\xa0]*[\[【(（]?[ \t\u3000]*("
    r"(保密|免责|法律)(声明|聲明|提示)"
    r"|本(邮件|郵件|电子邮件|電子郵件|信件)(及其?|和|連同|连同)?(任何)?(附件|所附文件)?[^\n]{0,12}"
    r"(含有|包含|可能包含|可能含有|仅供|僅供|属于|屬於|為|为)[^\n]{0,8}(保密|机密|機密|秘密|特定)"
    r"|(this|the information (contained )?in this)\s+(e-?mail|message|communication)"
    r"(\s+(and|including)\s+any\s+(attachments?|files?)(\s+(to|with)\s+it)?)?"
    r"\s+(is|are|may|contains?)\b[^\n]{0,40}(confidential|privileged|intended)"
    r"|confidentiality\s+(notice|note|statement)"
    r"|disclaimer\s*[:：]"
    r")",
    re.I | re.M,
)
_PARAGRAPH_END = re.compile(r"\n[ \t\u3000]*\n")


def strip_disclaimers(text: str) -> str:
    """Remove confidentiality notices, each to the end of its paragraph."""
    for _ in range(8):  # a Chinese and an English notice, sometimes repeated
        m = _DISCLAIMER.search(text)
        if not m or not text[: m.start()].strip():  # never strip a mail down to nothing
            return text
        end = _PARAGRAPH_END.search(text, m.end())
        text = text[: m.start()] + (text[end.start() :] if end else "")
    return text


def strip_quotes_and_signature(text: str) -> str:
    text = strip_disclaimers(text)
    m = _QUOTE_START.search(text)
    if m and text[: m.start()].strip():  # never strip a mail down to nothing
        text = text[: m.start()]
    sig = _SIGNATURE.search(text)
    if sig and text[: sig.start()].strip():
        text = text[: sig.start()]
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith(">")]
    return strip_disclaimers("\n".join(lines)).strip() or text.strip()
