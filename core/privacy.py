"""Personal data: masking for anything that leaves the CRM store, keyed hashing
for dedup keys. Pure functions, no I/O."""

from __future__ import annotations

import hashlib
import hmac
import re

from models import FeedbackReceived

# Mainland mobile numbers (optionally +86), landlines with area code, and emails.
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[- ]?(\d{3,4})(\d{4})(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# An account id has no shape of its own (wx_zhang88, 10-digit uids, openids): in
# prose it is recognised by the word that announces it.
_ACCOUNT = re.compile(
    r"(?<![A-Za-z])((?:账号|帐号|账户|帐户|用户名|用户ID|用户id|会员号|会员卡号|UID|uid|ID|id|account|Account)"
    r"[\"']?\s*(?:是|为|[:：=])?\s*[\"']?)([A-Za-z0-9][A-Za-z0-9_\-.]{3,63})(?![A-Za-z0-9_\-.@])"
)
# Record keys whose values are contacts, whatever their shape.
_CONTACT_KEYS = {
    "phone": "phone",
    "customer_phone": "phone",
    "email": "email",
    "customer_email": "email",
    "account": "account",
    "customer_account": "account",
}


def mask_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    if len(digits) >= 7:
        return f"{digits[:3]}****{digits[-4:]}"
    return "****"


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_account(account: str) -> str:
    """An account id keeps its first two and last two characters: enough for an
    agent to match it with what the customer reads out, not to reuse it."""
    if len(account) <= 4:
        return "****"
    return f"{account[:2]}****{account[-2:]}"


def mask_text(text: str) -> str:
    """Mask every phone number and email found in free text (SPEC §10)."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(3)}", text)
    return _ACCOUNT.sub(_mask_account_match, text)


def _mask_account_match(m: re.Match[str]) -> str:
    ident = m.group(2)
    if "." in ident and ident.replace(".", "").isdigit():  # 版本id 3.2.1 is a version
        return m.group(0)
    if not any(c.isdigit() for c in ident):  # "Account hacked", "ID card": words, not ids
        return m.group(0)
    return m.group(1) + mask_account(ident)


def mask_record(value: object) -> object:
    """A JSON-like value with every contact masked: the known contact keys by
    their kind (an account id cannot be found by its shape), every other
    string as free text. For dumps and exports of whole records."""
    if isinstance(value, dict):
        out: dict[object, object] = {}
        for k, v in value.items():
            kind = _CONTACT_KEYS.get(k) if isinstance(k, str) else None
            if kind and isinstance(v, str) and v:
                out[k] = (
                    mask_phone(v)
                    if kind == "phone"
                    else mask_email(v)
                    if kind == "email"
                    else mask_account(v)
                )
            else:
                out[k] = mask_record(v)
        return out
    if isinstance(value, list):
        return [mask_record(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def normalize_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def customer_key(
    hash_key: str, *, phone: str | None, email: str | None, account: str | None
) -> str | None:
    """A stable keyed hash of the customer's strongest identifier, or None.

    Keyed (HMAC) so that the key itself, seen in Kafka or logs, cannot be
    reversed by hashing every phone number.
    """
    ident: str | None = None
    if phone and normalize_phone(phone):
        ident = "p:" + normalize_phone(phone)
    elif email and "@" in email:
        ident = "e:" + email.strip().lower()
    elif account and account.strip():
        ident = "a:" + account.strip()
    if ident is None:
        return None
    return hmac.new(hash_key.encode(), ident.encode(), hashlib.sha256).hexdigest()[:32]


def customer_key_of(item: FeedbackReceived, hash_key: str) -> str | None:
    """The customer key of an item: the one definition every stage uses."""
    c = item.customer
    return customer_key(hash_key, phone=c.phone, email=c.email, account=c.account)


def partition_key(item: FeedbackReceived, hash_key: str) -> bytes:
    """Kafka key of an item: same customer -> same partition, so one triage
    worker sees all their items; an anonymous item is keyed by its source."""
    return (customer_key_of(item, hash_key) or item.source_key).encode()


_TEXT_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")


def link_key(hash_key: str, ident: str) -> str:
    """Keyed hash of any contact identifier (``p:``/``e:``/``a:`` as in
    customer_key, ``n:`` name plus order number): the same scheme, so a phone's
    link key is that phone's customer key."""
    return hmac.new(hash_key.encode(), ident.encode(), hashlib.sha256).hexdigest()[:32]


def contact_idents(item: FeedbackReceived, refs: tuple[str, ...] = ()) -> list[str]:
    """The identifiers an item gives, strongest first: its phone, email and
    account, phones written in its text, and its name with each reference
    number (a common name alone never identifies anyone)."""
    c = item.customer
    out: list[str] = []
    if c.phone and normalize_phone(c.phone):
        out.append("p:" + normalize_phone(c.phone))
    if c.email and "@" in c.email:
        out.append("e:" + c.email.strip().lower())
    if c.account and c.account.strip():
        out.append("a:" + c.account.strip())
    for m in _TEXT_PHONE.finditer(item.text):
        out.append("p:" + normalize_phone(m.group(0)))
    if c.name and c.name.strip():
        out += [f"n:{c.name.strip()}|{r}" for r in refs]
    return list(dict.fromkeys(out))
