"""Explicit priority rules (SPEC §5), compiled from taxonomy.yaml. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from config.business import Taxonomy
from models.vocabulary import at_least, raise_priority

__all__ = ["EscalationRules", "TopicTagger", "at_least", "raise_priority"]


@dataclass(frozen=True)
class EscalationRules:
    p1: tuple[tuple[str, re.Pattern[str]], ...]
    p2: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def from_taxonomy(cls, taxonomy: Taxonomy) -> EscalationRules:
        def comp(level: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
            rules = taxonomy.escalation.get(level, {})
            return tuple((name, re.compile(p, re.I)) for name, p in rules.items())

        return cls(p1=comp("p1"), p2=comp("p2"))

    def p1_reasons(self, text: str) -> list[str]:
        return [name for name, rx in self.p1 if rx.search(text)]

    def p2_reasons(self, text: str) -> list[str]:
        return [name for name, rx in self.p2 if rx.search(text)]


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
