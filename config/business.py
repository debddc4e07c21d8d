"""The business tables of SPEC §4-6, loaded from YAML into typed, validated rules."""

from __future__ import annotations

import re
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
    escalation: dict[str, dict[str, str]]

    @field_validator("types")
    @classmethod
    def _all_types(cls, v: dict[str, str]) -> dict[str, str]:
        missing = set(TYPES) - set(v)
        if missing:
            raise ValueError(f"missing types {sorted(missing)}")
        return v

    @field_validator("escalation")
    @classmethod
    def _patterns_compile(cls, v: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for level, rules in v.items():
            if level not in ("p1", "p2"):
                raise ValueError(f"unknown escalation level {level!r} (p1 or p2)")
            for name, pattern in rules.items():
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{level}.{name}: bad pattern: {exc}") from exc
        return v


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

    def is_working_day(self, d: date) -> bool:
        if d in self.makeup_workdays:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < 5


class BusinessRules(_Strict):
    taxonomy: Taxonomy
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
    """Load the four tables; a bad file raises ConfigError naming the key."""

    def path(name: str) -> Path:
        given = getattr(settings, f"{name}_file")
        return Path(given) if given else DEFAULTS_DIR / f"{name}.yaml"

    raw = {n: _read_yaml(path(n), n) for n in ("taxonomy", "routing", "sla", "holidays")}
    try:
        hol = raw["holidays"] or {}
        calendar = HolidayCalendar(
            covered_years=tuple(hol.get("covered_years", ())),
            holidays=_expand_dates(hol.get("holidays", [])),
            makeup_workdays=_expand_dates(hol.get("makeup_workdays", [])),
        )
        return BusinessRules(
            taxonomy=Taxonomy.model_validate(raw["taxonomy"]),
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
