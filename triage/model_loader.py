"""Choose the classifier: the trained bundle when one is configured and present,
otherwise the transparent keyword baseline (logged, visible in model_version)."""

from __future__ import annotations

import logging
from pathlib import Path

from triage.classifier import Classifier, KeywordClassifier
from triage.ports import KeywordExtractor, no_keywords

log = logging.getLogger(__name__)


def load_classifier(path: str | None) -> tuple[Classifier, KeywordExtractor]:
    if path and Path(path).is_file():
        from triage.bundle import load_bundle

        bundle = load_bundle(Path(path))
        return bundle, bundle.keywords
    log.warning("no model bundle; using the keyword baseline", extra={"model_path": path})
    return KeywordClassifier(), no_keywords
