"""Topic tags (SPEC §4), compiled from taxonomy.yaml. Pure. Priority rules:
``triage.signals``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from config.business import Taxonomy
from models.vocabulary import at_least, raise_priority

__all__ = ["TopicTagger", "at_least", "raise_priority"]


@dataclass(frozen=True)
class TopicTagger:
    table: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def from_taxonomy(cls, taxonomy: Taxonomy) -> TopicTagger:
        return cls(
            tuple(
                (t, re.compile("|".join(re.escape(w) for w in ws), re.I))
                for t, ws in taxonomy.topics.items()
                if ws
            )
        )

    def tag(self, text: str) -> tuple[str, ...]:
        return tuple(topic for topic, rx in self.table if rx.search(text))
