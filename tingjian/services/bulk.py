"""``tingjian import FILE --mapping NAME``: a one-shot bulk import."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import Settings
from core.errors import SourceError
from ingest.bulk.importer import ImportReport, import_file, load_mapping, write_errors
from ingest.bulk.rows import Mapping
from tingjian.services.pull import ConnectorIO, open_io
from tingjian.wiring import timezone


@dataclass
class ImportService:
    settings: Settings
    io: ConnectorIO
    path: Path
    mapping: Mapping
    name: str = "import"
    metrics_port: int | None = None  # one-shot: nothing to scrape
    report: ImportReport | None = None

    def run(self, stop: threading.Event) -> None:
        self.report = import_file(
            self.path,
            self.mapping,
            store=self.io.store,
            send=self.io.send,
            topics=self.io.topics,
            hash_key=self.settings.privacy.hash_key,
            tz=timezone(self.settings),
        )
        rep = self.report
        errors = write_errors(self.path, rep)
        for b in rep.bad[:20]:
            print(f"row {b['row']}: {b['error']}", file=sys.stderr)
        if len(rep.bad) > 20:
            print(f"... {len(rep.bad) - 20} more bad rows", file=sys.stderr)
        print(
            f"{self.path.name}: {rep.rows} rows, {rep.produced} imported,"
            f" {rep.already_imported} already imported, {len(rep.bad)} bad"
            + (f" (see {errors})" if errors else "")
        )

    def health(self) -> dict[str, Any]:
        return {"ok": True, "done": self.report is not None}

    def close(self) -> None:
        self.io.close()


def build(
    settings: Settings, file: str, mapping_name: str, mappings_file: str | None
) -> ImportService:
    mapping = load_mapping(mapping_name, mappings_file)
    path = Path(file)
    if not path.is_file():
        raise SourceError(f"file not found: {file}")
    return ImportService(settings, open_io(settings, "import", "-import"), path, mapping)
