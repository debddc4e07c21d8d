"""Text normalisation for the models. Pure functions; the original text is never
modified (the caller keeps it beside the result).

Steps: HTML to text, quoted replies and signatures removed, Traditional to
Simplified (OpenCC), full-width to half-width (NFKC), and typed placeholders for
URLs, emails, phones, order numbers and amounts, whose values are returned as
extracted entities (phones and emails masked: entities travel further than the
store).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from core.mailtext import html_to_text, strip_quotes_and_signature
from core.privacy import mask_email, mask_phone


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
