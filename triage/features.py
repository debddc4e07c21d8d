"""Tokenizers for the classifiers. Module-level functions, so that fitted
vectorizers pickle (no lambdas, no closures)."""

from __future__ import annotations

import logging
import re

_SPACE = re.compile(r"\s+")


def jieba_words(text: str) -> list[str]:
    import jieba

    if jieba.default_logger.level < logging.WARNING:
        jieba.setLogLevel(logging.WARNING)  # it announces its dictionary on stderr

    # HMM off: about twice as fast, and new-word discovery adds little to
    # classification of short feedback.
    return [w for w in jieba.lcut(text, HMM=False) if w.strip()]


def compact(text: str) -> str:
    """Lower-cased, whitespace collapsed: the input of the char n-gram analyzer."""
    return _SPACE.sub(" ", text.lower()).strip()
