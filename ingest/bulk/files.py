"""Reading CSV (any Chinese encoding) and Excel files as header->value rows,
numbered as a spreadsheet user sees them (header = row 1)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import SourceError
from ingest.email.decode import decode_bytes


class FileError(SourceError):
    """An import file that cannot be read as a table."""


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        yield from _xlsx(path)
    elif suffix in (".csv", ".txt", ".tsv"):
        yield from _csv(path)
    else:
        raise FileError(f"{path.name}: unsupported file type {suffix!r} (csv, xlsx)")


def _csv(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="replace")
    else:
        # Excel on Chinese Windows saves CSV as GBK; decode_bytes tries UTF-8 then GB18030.
        text, _ = decode_bytes(data, None)
    dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    header = next(reader, None)
    if not header:
        raise FileError(f"{path.name}: no header row")
    header = [h.strip() for h in header]
    for n, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        yield n, dict(zip(header, values, strict=False))


def _xlsx(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise FileError(f"{path.name}: not a readable Excel file: {exc}") from exc
    try:
        ws = wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header_row = next(rows, None)
        if not header_row:
            raise FileError(f"{path.name}: no header row")
        header = [str(h).strip() if h is not None else "" for h in header_row]
        for n, values in enumerate(rows, start=2):
            if not any(v not in (None, "") for v in values):
                continue
            yield n, dict(zip(header, values, strict=False))
    finally:
        wb.close()
