"""``tingjian import FILE --mapping NAME``: spreadsheet rows into Kafka, once.

Rows are produced in chunks; after Kafka acknowledged a chunk its source ids
join the import seen-set (PostgreSQL), so re-importing the same file, or
resuming after a crash, creates nothing new. Bad rows are reported with their
row numbers in ``FILE.errors.jsonl`` and on stderr: never dropped silently."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from config.settings import DEFAULTS_DIR
from core.errors import ConfigError
from core.privacy import mask_text
from ingest.base import Candidate, PullSource, Send
from ingest.bulk.files import read_rows
from ingest.bulk.rows import Mapping, RowError, build_item
from ingest.checkpoints import CheckpointStore
from models import Topics

log = logging.getLogger(__name__)
DEFAULT_MAPPINGS = DEFAULTS_DIR / "import_mappings.yaml"


def load_mapping(name: str, path: str | None = None) -> Mapping:
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


class FileImport(PullSource):
    connector = "import"


def import_file(
    path: Path,
    mapping: Mapping,
    *,
    store: CheckpointStore,
    send: Send,
    topics: Topics,
    hash_key: str,
    tz: ZoneInfo,
    chunk_size: int = 500,
) -> ImportReport:
    rep = ImportReport()
    now = datetime.now(UTC)
    source = FileImport(store, send, topics, hash_key)
    chunk: list[Candidate] = []

    def flush() -> None:
        if chunk:
            done = source.publish(chunk)
            rep.produced += done.produced
            rep.already_imported += done.duplicates
            chunk.clear()

    for n, row in read_rows(path):  # FileError (a SourceError) for an unreadable file
        rep.rows += 1
        try:
            item = build_item(row, mapping, tz, now)
        except RowError as exc:
            source.count("received")
            source.count("rejected_row")
            rep.bad.append({"row": n, "error": mask_text(str(exc))})
            continue
        chunk.append(Candidate((item.source_key,), item=item))
        if len(chunk) >= chunk_size:
            flush()
    flush()
    return rep


def write_errors(path: Path, rep: ImportReport) -> Path | None:
    if not rep.bad:
        return None
    out = path.with_name(path.name + ".errors.jsonl")
    out.write_text(
        "".join(json.dumps(b, ensure_ascii=False) + "\n" for b in rep.bad), encoding="utf-8"
    )
    return out
