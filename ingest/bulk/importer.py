"""``tingjian import FILE --mapping NAME``: spreadsheet rows into Kafka, once.

Rows are produced in chunks; after Kafka acknowledged a chunk its source ids
join the import seen-set (PostgreSQL), so re-importing the same file, or
resuming after a crash, creates nothing new. Bad rows are reported with their
row numbers in ``FILE.errors.jsonl`` and on stderr: never dropped silently."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from config.settings import DEFAULTS_DIR
from ingest.bulk.files import read_rows
from ingest.bulk.rows import Mapping, RowError, build_item
from ingest.checkpoints import CheckpointStore
from tingjian.errors import TingjianError
from tingjian.privacy import customer_key, mask_text
from tingjian.runtime.kafka_io import Outgoing
from tingjian.runtime.observability import INGEST_ITEMS

log = logging.getLogger(__name__)
DEFAULT_MAPPINGS = DEFAULTS_DIR / "import_mappings.yaml"


def load_mapping(name: str, path: str | None = None) -> Mapping:
    from config.settings import ConfigError

    file = Path(path) if path else DEFAULT_MAPPINGS
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"imports.mappings_file: cannot read {file}: {exc}") from exc
    mappings = doc.get("mappings", {})
    if name not in mappings:
        raise ConfigError(
            f"--mapping: unknown mapping {name!r} (known: {', '.join(sorted(mappings))})"
        )
    try:
        return Mapping.model_validate(mappings[name])
    except ValueError as exc:
        raise ConfigError(f"mappings.{name}: {str(exc).splitlines()[-1].strip()}") from exc


@dataclass
class ImportReport:
    rows: int = 0
    produced: int = 0
    already_imported: int = 0
    bad: list[dict[str, Any]] = field(default_factory=list)


def import_file(
    path: Path,
    mapping: Mapping,
    *,
    store: CheckpointStore,
    send: Callable[[Sequence[Outgoing]], object],
    topic: str,
    hash_key: str,
    tz: ZoneInfo,
    chunk_size: int = 500,
) -> ImportReport:
    rep = ImportReport()
    now = datetime.now(UTC)
    chunk: list[tuple[str, Outgoing]] = []

    def flush() -> None:
        if not chunk:
            return
        seen = store.seen([k for k, _ in chunk])
        fresh = [(k, o) for k, o in chunk if k not in seen]
        rep.already_imported += len(chunk) - len(fresh)
        INGEST_ITEMS.labels("import", "duplicate").inc(len(chunk) - len(fresh))
        send([o for _, o in fresh])
        store.commit(None, None, [k for k, _ in fresh])
        rep.produced += len(fresh)
        INGEST_ITEMS.labels("import", "produced").inc(len(fresh))
        chunk.clear()

    try:
        for n, row in read_rows(path):
            rep.rows += 1
            INGEST_ITEMS.labels("import", "received").inc()
            try:
                item = build_item(row, mapping, tz, now)
            except RowError as exc:
                INGEST_ITEMS.labels("import", "rejected_row").inc()
                rep.bad.append({"row": n, "error": mask_text(str(exc))})
                continue
            c = item.customer
            key = (
                customer_key(hash_key, phone=c.phone, email=c.email, account=c.account)
                or item.source_key
            )
            chunk.append(
                (item.source_key, Outgoing(topic, key.encode(), item.model_dump_json().encode()))
            )
            if len(chunk) >= chunk_size:
                flush()
        flush()
    except Exception as exc:
        if isinstance(exc, TingjianError):
            raise
        from ingest.bulk.files import FileError

        if isinstance(exc, FileError):
            raise TingjianError(str(exc)) from exc
        raise
    return rep


def write_errors(path: Path, rep: ImportReport) -> Path | None:
    if not rep.bad:
        return None
    out = path.with_name(path.name + ".errors.jsonl")
    out.write_text(
        "".join(json.dumps(b, ensure_ascii=False) + "\n" for b in rep.bad), encoding="utf-8"
    )
    return out
