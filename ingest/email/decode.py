"""Decoding Chinese mail without losing the customer's words. Pure.

Declared charsets are narrower than what clients really send: gb2312/gbk
labels are decoded as gb18030 (a superset), big5 as big5-hkscs then cp950.
Missing, unknown or lying labels are detected (charset-normalizer). Whenever
decoding had to guess, the caller gets ``suspect=True``: never an exception.
"""

from __future__ import annotations

import codecs
import re
from email.header import Header, decode_header

_SUPERSETS: dict[str, tuple[str, ...]] = {
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "cp936": ("gb18030",),
    "x-gbk": ("gb18030",),
    "gb_2312-80": ("gb18030",),
    "euc-cn": ("gb18030",),
    "gb18030": ("gb18030",),
    "big5": ("big5hkscs", "cp950"),
    "big5-hkscs": ("big5hkscs", "cp950"),
    "cp950": ("cp950", "big5hkscs"),
    "x-big5": ("big5hkscs", "cp950"),
    "us-ascii": ("utf-8",),  # many clients send UTF-8 under an ascii label
    "ascii": ("utf-8",),
}


def candidates(label: str | None) -> tuple[str, ...]:
    if not label:
        return ()
    name = label.strip().strip('"').lower()
    if name in _SUPERSETS:
        return _SUPERSETS[name]
    try:
        return (codecs.lookup(name).name,)
    except LookupError:
        return ()


def _looks_wrong(text: str, declared: str) -> bool:
    """A latin-1 style label that produced mojibake of a CJK encoding."""
    if declared not in ("latin-1", "iso8859-1", "cp1252", "windows-1252", "iso8859-15"):
        return False
    high = sum(1 for c in text if "\x80" <= c <= "\xff")
    return high > max(3, len(text) // 10)


def decode_bytes(data: bytes, label: str | None) -> tuple[str, bool]:
    """(text, suspect). Tries the declared charset's best superset strictly,
    then detection, then UTF-8 with replacement (suspect)."""
    if data.startswith(codecs.BOM_UTF8):
        # A byte-order mark says UTF-8 whatever the label says; it is not text.
        try:
            return data[3:].decode("utf-8"), candidates(label) not in ((), ("utf-8",))
        except UnicodeDecodeError:
            data = data[3:]
    if not data:
        return "", False
    declared = candidates(label)
    for enc in declared:
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        if not _looks_wrong(text, enc):
            return text, False
    try:
        return data.decode("utf-8"), bool(label)  # no label and clean UTF-8: not a guess
    except UnicodeDecodeError:
        pass
    for enc in ("gb18030", "big5hkscs"):
        # Strict decodes of the two big CJK encodings before statistical
        # detection: short Chinese texts are where detectors guess worst.
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if _mostly_cjk(text):
            return text, True
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None:
        return str(best), True
    return data.decode("utf-8", errors="replace"), True


def _mostly_cjk(text: str) -> bool:
    cjk = sum(
        1
        for c in text
        if "\u4e00" <= c <= "\u9fff" or "\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef"
    )
    letters = sum(1 for c in text if not c.isspace() and not c.isascii())
    return letters > 0 and cjk / letters > 0.8


_ENCODED_WORD = re.compile(r"=\?[^?]+\?[bBqQ]\?[^?]*\?=")


def decode_header_value(value: object) -> tuple[str, bool]:
    """RFC 2047 header to text. Adjacent encoded-words of one charset are joined
    as bytes before decoding, so a character split across two words survives."""
    if value is None:
        return "", False
    raw = value if isinstance(value, Header) else str(value)
    try:
        parts = decode_header(raw)
    except Exception:  # malformed encoded-word: keep the raw text
        return str(raw), True
    merged: list[tuple[bytes, str | None]] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            # Raw 8-bit header bytes arrive as surrogate escapes: get them back.
            try:
                data = chunk.encode("ascii", errors="surrogateescape")
            except UnicodeEncodeError:
                data = chunk.encode("utf-8", errors="replace")
        else:
            data = chunk
        if merged and merged[-1][1] == charset:
            merged[-1] = (merged[-1][0] + data, charset)
        else:
            merged.append((data, charset))
    out: list[str] = []
    suspect = False
    for data, charset in merged:
        if charset is None or charset == "unknown-8bit":
            # Unencoded header text: raw 8-bit headers happen (GBK in Subject).
            text, s = decode_bytes(data, "utf-8")
            if s:
                text, s = decode_bytes(data, None)
        else:
            text, s = decode_bytes(data, charset)
        suspect |= s
        out.append(text)
    return re.sub(r"\s+", " ", "".join(out)).strip(), suspect
