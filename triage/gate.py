"""The promotion gate: a candidate replaces the live model only if no head's
macro-F1 drops by more than a margin and P1 recall does not drop at all, on
every test set (the frozen split, the agents' recent corrections). Pure: the
figures come in, a verdict and its table go out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HEADS = ("type", "priority", "sentiment")


@dataclass(frozen=True)
class Check:
    test_set: str
    figure: str  # "<head> macro-F1" or "P1 recall"
    live: float
    candidate: float
    allowed_drop: float

    @property
    def delta(self) -> float:
        return self.candidate - self.live

    @property
    def ok(self) -> bool:
        # A tiny tolerance for float noise: equal figures never fail.
        return self.delta >= -self.allowed_drop - 1e-12


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def table(self) -> str:
        lines = [f"{'test set':<22}{'figure':<22}{'live':>8}{'candidate':>11}{'delta':>9}  verdict"]
        for c in self.checks:
            mark = "ok" if c.ok else f"REFUSED (max drop {c.allowed_drop:g})"
            lines.append(
                f"{c.test_set:<22}{c.figure:<22}{c.live:>8.3f}{c.candidate:>11.3f}"
                f"{c.delta:>+9.3f}  {mark}"
            )
        return "\n".join(lines)


def compare(
    live: Mapping[str, Mapping[str, Any]],
    candidate: Mapping[str, Mapping[str, Any]],
    margin: float,
) -> Verdict:
    """``live``/``candidate``: per test set, the output of training.score()."""
    checks: list[Check] = []
    for name, cand in candidate.items():
        ref = live[name]
        for head in HEADS:
            checks.append(
                Check(
                    name,
                    f"{head} macro-F1",
                    float(ref[head]["macro_f1"]),
                    float(cand[head]["macro_f1"]),
                    margin,
                )
            )
        if ref["p1"]["support"]:
            checks.append(
                Check(
                    name, "P1 recall", float(ref["p1"]["recall"]), float(cand["p1"]["recall"]), 0.0
                )
            )
    return Verdict(tuple(checks))
