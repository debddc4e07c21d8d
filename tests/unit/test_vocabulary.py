"""The vocabulary is spelled once (models/vocabulary.py); the SQL agrees with it."""

from __future__ import annotations

import re
from pathlib import Path

from config import load_business_rules, load_settings
from models.vocabulary import PRIORITIES, SENTIMENTS, STATES, TYPES, at_least, raise_priority

MIGRATIONS = Path(__file__).resolve().parents[2] / "core" / "store" / "migrations"


def _check(column: str) -> tuple[str, ...]:
    sql = "\n".join(p.read_text(encoding="utf-8") for p in sorted(MIGRATIONS.glob("*.sql")))
    m = re.search(rf"\b{column}\s+text\s+NOT NULL\s+CHECK \({column} IN \(([^)]*)\)\)", sql)
    assert m, f"no CHECK constraint for {column}"
    return tuple(v.strip().strip("'") for v in m.group(1).split(","))


def test_sql_check_constraints_match_the_vocabulary() -> None:
    assert _check("type") == TYPES
    assert _check("priority") == PRIORITIES
    assert _check("sentiment") == SENTIMENTS


def test_priority_spelling_sorts_by_urgency() -> None:
    # The store merges with LEAST(priority, ...): the text order must be the urgency order.
    assert sorted(PRIORITIES) == list(PRIORITIES)
    assert raise_priority("P3") == "P2" and raise_priority("P1") == "P1"
    assert at_least("P4", "P2") == "P2" and at_least("P1", "P2") == "P1"


def test_states_follow_spec_section_7() -> None:
    assert STATES[0] == "新建" and STATES[-1] == "已归档" and len(set(STATES)) == 8


def test_business_tables_cover_the_vocabulary() -> None:
    rules = load_business_rules(load_settings().business)
    assert set(rules.routing.departments) >= set(TYPES)
    assert set(rules.sla.priorities) == set(PRIORITIES)
