"""Triage heads: one label the model bundle predicts, one module each.

A head names its label set, makes its (cloneable, picklable) scikit-learn
estimator, and says where training finds the gold label of an example. The
bundle trains and predicts every head it is given; the engine reads the three
core heads by name (type, priority, sentiment) and passes any other head's
label through as ``Triage.labels`` (stored in ``tickets.head_labels``).

A new head (a topic classifier, a P1 detector) is one module here that defines
``HEAD`` plus its name in ``triage.heads`` in the settings.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError

CORE_HEADS = ("type", "priority", "sentiment")


@dataclass(frozen=True)
class Head:
    name: str
    labels: tuple[str, ...]
    # A fresh unfitted estimator with predict_proba and classes_.
    make_estimator: Callable[[], Any]
    # Label of a training example (its JSONL fields), or None when it has none.
    gold: Callable[[Mapping[str, Any]], str | None]


@dataclass(frozen=True)
class HeadOutput:
    label: str
    confidence: float
    # Every label with its probability, most likely first.
    ranked: tuple[tuple[str, float], ...]


def field_label(field: str) -> Callable[[Mapping[str, Any]], str | None]:
    def gold(row: Mapping[str, Any]) -> str | None:
        value = row.get(field)
        if value is None:
            value = (row.get("labels") or {}).get(field)
        return None if value is None else str(value)

    gold.__name__ = f"gold_{field}"
    return gold


def load_head(name: str) -> Head:
    """The head defined by module ``triage.heads.<name>``."""
    if not name.isidentifier():
        raise ConfigError(f"triage.heads: {name!r} is not a head name")
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        raise ConfigError(f"triage.heads: no head module triage/heads/{name}.py") from exc
    head = getattr(module, "HEAD", None)
    if not isinstance(head, Head) or head.name != name:
        raise ConfigError(f"triage.heads: triage/heads/{name}.py defines no HEAD named {name!r}")
    return head


def load_heads(names: tuple[str, ...] | list[str] = CORE_HEADS) -> tuple[Head, ...]:
    missing = [n for n in CORE_HEADS if n not in names]
    if missing:
        raise ConfigError(f"triage.heads: the core heads {missing} are required")
    return tuple(load_head(n) for n in dict.fromkeys(names))
