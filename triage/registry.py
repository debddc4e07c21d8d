"""The model registry: every trained bundle kept as a version with its card,
and a pointer to the live one.

Layout under ``triage.registry_dir``::

    <version>/triage.bundle        the bundle's bytes
    <version>/triage.bundle.json   its card (the bundle manifest: sha256 of the
                                   bytes, data sources, counts, metrics, who)
    live.json                      {"version": V, "history": [...]}

``promote`` writes the pointer, then materialises the version at
``triage.model_path`` with the bundle's own protocol (card first, then the
bytes, each by atomic rename): the triage workers' hot reload
(triage/reload.py) follows that path between batches, no restart.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import ModelError
from triage.bundle import TriageBundle, file_sha256, load_bundle, save_bundle

BUNDLE = "triage.bundle"
CARD = BUNDLE + ".json"
LIVE = "live.json"


@dataclass(frozen=True)
class Version:
    id: str
    card: dict[str, Any]
    path: Path


class Registry:
    def __init__(self, root: Path) -> None:
        self.root = root

    # ------------------------------------------------------------ versions

    def register(self, bundle: TriageBundle, card: dict[str, Any]) -> Version:
        """Keep a trained bundle as a new version; its card is the manifest
        save_bundle writes (sha256 of the bytes) plus ``card``."""
        dest = self.root / bundle.version / BUNDLE
        if dest.exists():
            raise ModelError(f"version {bundle.version} is already registered")
        bundle.meta.update(card)
        save_bundle(bundle, dest)
        return self.get(bundle.version)

    def versions(self) -> list[Version]:
        if not self.root.is_dir():
            return []
        out = [self._read(d.name) for d in self.root.iterdir() if (d / CARD).is_file()]
        return sorted(out, key=lambda v: (str(v.card.get("trained_at", "")), v.id))

    def get(self, version: str) -> Version:
        if not version or "/" in version or version.startswith("."):
            raise ModelError(f"not a version id: {version!r}")
        if not (self.root / version / CARD).is_file():
            known = ", ".join(v.id for v in self.versions()) or "none"
            raise ModelError(f"no version {version} in {self.root} (registered: {known})")
        return self._read(version)

    def _read(self, version: str) -> Version:
        path = self.root / version / CARD
        try:
            card = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"card {path} unreadable: {exc}") from exc
        return Version(version, card, self.root / version / BUNDLE)

    def load(self, version: str) -> TriageBundle:
        """The version's bundle, only if its bytes match its card (and the
        scikit-learn version matches: load_bundle)."""
        v = self.get(version)
        bundle = load_bundle(v.path)
        if bundle.version != v.id:
            raise ModelError(f"{v.path} holds {bundle.version}, not {v.id}: refusing it")
        return bundle

    def annotate(self, version: str, key: str, entry: dict[str, Any]) -> None:
        """Append an entry to a list in the card (promotions, forced ones with
        their reason). The sha256 of the bytes is untouched."""
        v = self.get(version)
        card = dict(v.card)
        card[key] = [*card.get(key, []), entry]
        _write_json(self.root / version / CARD, card)

    # ------------------------------------------------------------ the pointer

    def live(self) -> str | None:
        return self._pointer().get("version")

    def history(self) -> list[dict[str, Any]]:
        return list(self._pointer().get("history", []))

    def _pointer(self) -> dict[str, Any]:
        path = self.root / LIVE
        if not path.is_file():
            return {}
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"live pointer {path} unreadable: {exc}") from exc
        return data

    def set_live(self, version: str, model_path: Path, *, by: str, action: str) -> None:
        self.load(version)  # verify before anything points at it
        ptr = self._pointer()
        entry = {"version": version, "at": datetime.now(UTC).isoformat(), "by": by}
        entry["action"] = action
        ptr = {"version": version, "history": [*ptr.get("history", []), entry]}
        _write_json(self.root / LIVE, ptr)
        materialise(self.get(version), model_path)

    def previous(self) -> str | None:
        """The version live before the current one (what rollback returns to):
        the history replayed as a stack, a promotion pushing, a rollback popping."""
        stack: list[str] = []
        for h in self.history():
            if h.get("action") == "promote" and (not stack or stack[-1] != h["version"]):
                stack.append(h["version"])
            elif h.get("action") == "rolled_back" and stack:
                stack.pop()
        return stack[-2] if len(stack) >= 2 else None

    def rollback(self, model_path: Path, *, by: str) -> tuple[str, str]:
        current = self.live()
        target = self.previous()
        if current is None or target is None:
            raise ModelError("nothing to roll back to: no earlier promoted version")
        ptr = self._pointer()
        ptr["history"] = [
            *ptr.get("history", []),
            {"version": current, "at": datetime.now(UTC).isoformat(), "by": by}
            | {"action": "rolled_back"},
        ]
        _write_json(self.root / LIVE, ptr)
        self.set_live(target, model_path, by=by, action="rollback")
        return current, target


def materialise(v: Version, model_path: Path) -> None:
    """Copy a version to the path the workers watch: card first, then the
    bytes, each by atomic rename, so a watcher that sees new bytes always finds
    the card that vouches for them (the order save_bundle keeps)."""
    model_path.parent.mkdir(parents=True, exist_ok=True)
    card_dst = model_path.with_name(model_path.name + ".json")
    tmp_card = card_dst.with_name(card_dst.name + ".tmp")
    shutil.copyfile(v.path.with_name(CARD), tmp_card)
    tmp = model_path.with_name(model_path.name + ".tmp")
    shutil.copyfile(v.path, tmp)
    if file_sha256(tmp) != v.card.get("sha256"):
        tmp.unlink()
        raise ModelError(f"version {v.id}: bytes do not match its card; not promoted")
    os.replace(tmp_card, card_dst)
    os.replace(tmp, model_path)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)
