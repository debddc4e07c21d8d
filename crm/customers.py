"""Customer segments from CRM data (SPEC §4): rows of an exported customer
list become one ``customers`` row per contact key (the keyed hash triage
computes), so the customer is recognised by phone, email or account."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from core.errors import ContractError, StoreError
from core.pg import PgConnection
from core.privacy import customer_key

SEGMENTS = ("新客户", "老客户", "高价值客户", "流失客户")
# Column headers accepted for each field (a CRM export's own names).
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "phone": ("手机号", "手机", "电话", "联系电话", "phone", "mobile"),
    "email": ("邮箱", "电子邮箱", "email", "e-mail"),
    "account": ("账号", "账户", "会员号", "account", "account_id"),
    "name": ("姓名", "客户姓名", "name"),
    "segment": ("客户类型", "客户分层", "segment", "类型"),
}


@dataclass(frozen=True)
class CustomerRow:
    keys: tuple[str, ...]
    name: str | None
    segment: str


def _cell(row: Mapping[str, Any], field: str) -> str | None:
    lowered = {str(k).strip().lower(): v for k, v in row.items()}
    for col in COLUMNS[field]:
        v = lowered.get(col.lower())
        if v is not None and str(v).strip():
            return str(v).strip()
    return None


def parse_customer(row: Mapping[str, Any], hash_key: str) -> CustomerRow:
    """One row of the file; ContractError naming what is wrong."""
    segment = _cell(row, "segment")
    if segment not in SEGMENTS:
        raise ContractError(f"客户类型 must be one of {', '.join(SEGMENTS)} (got {segment!r})")
    keys = [
        k
        for k in (
            customer_key(hash_key, phone=_cell(row, "phone"), email=None, account=None),
            customer_key(hash_key, phone=None, email=_cell(row, "email"), account=None),
            customer_key(hash_key, phone=None, email=None, account=_cell(row, "account")),
        )
        if k
    ]
    if not keys:
        raise ContractError("a customer needs a phone, an email or an account")
    return CustomerRow(tuple(dict.fromkeys(keys)), _cell(row, "name"), segment)


class CustomerBook:
    def __init__(self, dsn: str) -> None:
        self._pg = PgConnection(dsn, what="CRM store (customers)")

    def upsert(self, rows: Sequence[CustomerRow], source: str) -> int:
        def write(c: psycopg.Connection) -> int:
            n = 0
            for r in rows:
                for k in r.keys:
                    c.execute(
                        "INSERT INTO customers (customer_key, name, segment, source)"
                        " VALUES (%s, %s, %s, %s) ON CONFLICT (customer_key) DO UPDATE SET"
                        " name = EXCLUDED.name, segment = EXCLUDED.segment,"
                        " source = EXCLUDED.source, updated_at = now()",
                        (k, r.name, r.segment, source),
                    )
                    n += 1
            return n

        try:
            return self._pg.transact(write)
        except psycopg.Error as exc:
            raise StoreError(f"CRM store: {exc}") from exc

    def close(self) -> None:
        self._pg.close()
