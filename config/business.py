"""The business tables of SPEC §4-6, loaded from YAML into typed, validated rules."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config.settings import DEFAULTS_DIR, BusinessSettings
from core.errors import ConfigError
from models.vocabulary import PRIORITIES, TYPES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Taxonomy(_Strict):
    types: dict[str, str]
    topics: dict[str, tuple[str, ...]]

    @field_validator("types")
    @classmethod
    def _all_types(cls, v: dict[str, str]) -> dict[str, str]:
        missing = set(TYPES) - set(v)
        if missing:
            raise ValueError(f"missing types {sorted(missing)}")
        return v


class PriorityCombination(_Strict):
    p1: tuple[str, ...]
    p2: tuple[str, ...]
    no_escalation_types: tuple[str, ...] = ("praise", "spam")
    model_p1_min_probability: float = Field(default=0.5, ge=0, le=1)
    # A P1 signal listed here makes P1 only when the model's P1 probability
    # is at least this much as well (signal and model must both see it).
    p1_needs_model_probability: dict[str, float] = Field(default_factory=dict)

    @field_validator("p1", "p2")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(v) - set(SIGNAL_NAMES)
        if unknown:
            raise ValueError(f"unknown signals {sorted(unknown)} (known: {list(SIGNAL_NAMES)})")
        return v


SIGNAL_NAMES = (
    "core.blocked",
    "core.degraded",
    "loss.money",
    "loss.money_small",
    "loss.data",
    "account.stolen",
    "safety",
    "public_opinion",
    "mass_impact",
    "repeat",
)


# The phrase groups of priority.yaml that are matched on text (lower-cased,
# longest first); triage/signals.py reads the same list.
PHRASE_GROUPS = (
    "blocked",
    "degraded",
    "money_nouns",
    "money_vanished",
    "money_taken",
    "data_nouns",
    "data_vanished",
    "account_stolen",
    "safety",
    "public_opinion",
    "mass_impact",
    "repeat",
)


class PriorityRules(_Strict):
    """The lexicon and rules of ``priority.yaml`` (see the comments there)."""

    core_functions: dict[str, tuple[str, ...]]
    blocked: tuple[str, ...]
    degraded: tuple[str, ...]
    money_nouns: tuple[str, ...]
    money_vanished: tuple[str, ...]
    money_taken: tuple[str, ...]
    small_amount_max: float = Field(ge=0)
    data_nouns: tuple[str, ...]
    data_vanished: tuple[str, ...]
    account_stolen: tuple[str, ...]
    safety: tuple[str, ...]
    public_opinion: tuple[str, ...]
    not_followed_by: tuple[str, ...]
    mass_impact: tuple[str, ...]
    repeat: tuple[str, ...]
    negators: tuple[str, ...]
    rules: PriorityCombination

    @field_validator(*PHRASE_GROUPS)
    @classmethod
    def _lower(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        # Matched on lower-cased text; longest first so the evidence names the
        # most specific phrase.
        return tuple(sorted({str(x).lower() for x in v}, key=len, reverse=True))


class Routing(_Strict):
    departments: dict[str, str]
    quarantine_types: tuple[str, ...] = ("spam",)

    @field_validator("departments")
    @classmethod
    def _all_routed(cls, v: dict[str, str]) -> dict[str, str]:
        missing = set(TYPES) - set(v)
        if missing:
            raise ValueError(f"no department for types {sorted(missing)}")
        return v


class Duration(_Strict):
    hours: float | None = Field(default=None, gt=0)
    working_days: int | None = Field(default=None, ge=1)


class PrioritySla(_Strict):
    first_response: Duration | None = None
    resolve: Duration | None = None
    update_every_hours: int | None = None
    queue: str | None = None


class SlaTable(_Strict):
    acknowledge_hours: dict[str, float]
    business_day_start: time
    priorities: dict[str, PrioritySla]

    @field_validator("priorities")
    @classmethod
    def _all_priorities(cls, v: dict[str, PrioritySla]) -> dict[str, PrioritySla]:
        missing = set(PRIORITIES) - set(v)
        if missing:
            raise ValueError(f"no SLA for {sorted(missing)}")
        return v

    def acknowledge_for(self, priority: str) -> float:
        return self.acknowledge_hours.get(priority, self.acknowledge_hours["default"])


class HolidayCalendar(_Strict):
    covered_years: tuple[int, ...]
    holidays: frozenset[date]
    makeup_workdays: frozenset[date]

    def covers(self, year: int) -> bool:
        """Whether the holidays of ``year`` are configured (outside, weekends only)."""
        return year in self.covered_years

    def is_working_day(self, d: date) -> bool:
        if d in self.makeup_workdays:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < 5


class BusinessRules(_Strict):
    taxonomy: Taxonomy
    priority: PriorityRules
    routing: Routing
    sla: SlaTable
    calendar: HolidayCalendar


def _read_yaml(path: Path, name: str) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except OSError as exc:
        raise ConfigError(f"business.{name}_file: cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"business.{name}_file: invalid YAML in {path}") from exc


def _expand_dates(items: list[Any]) -> frozenset[date]:
    out: set[date] = set()
    for item in items:
        if isinstance(item, date):
            out.add(item)
        elif isinstance(item, dict) and set(item) == {"from", "to"}:
            d, end = item["from"], item["to"]
            if not isinstance(d, date) or not isinstance(end, date) or end < d:
                raise ValueError(f"bad date range {item!r}")
            while d <= end:
                out.add(d)
                d += timedelta(days=1)
        else:
            raise ValueError(f"expected a date or {{from, to}}, got {item!r}")
    return frozenset(out)


def load_business_rules(settings: BusinessSettings) -> BusinessRules:
    """Load the five tables; a bad file raises ConfigError naming the key."""

    def path(name: str) -> Path:
        given = getattr(settings, f"{name}_file")
        return Path(given) if given else DEFAULTS_DIR / f"{name}.yaml"

    names = ("taxonomy", "priority", "routing", "sla", "holidays")
    raw = {n: _read_yaml(path(n), n) for n in names}
    try:
        hol = raw["holidays"] or {}
        calendar = HolidayCalendar(
            covered_years=tuple(hol.get("covered_years", ())),
            holidays=_expand_dates(hol.get("holidays", [])),
            makeup_workdays=_expand_dates(hol.get("makeup_workdays", [])),
        )
        return BusinessRules(
            taxonomy=Taxonomy.model_validate(raw["taxonomy"]),
            priority=PriorityRules.model_validate(raw["priority"]),
            routing=Routing.model_validate(raw["routing"]),
            sla=SlaTable.model_validate(raw["sla"]),
            calendar=calendar,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"business rules: {loc}: {err['msg']}") from exc
    except ValueError as exc:
        raise ConfigError(f"business.holidays_file: {exc}") from exc
