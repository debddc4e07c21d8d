"""Priority signals of SPEC §5, read from word tokens, and the rules that turn
them into a priority. Pure: the lexicon and the rules come from
``config/defaults/priority.yaml``.

A phrase counts only where it starts and ends on a jieba token boundary (so
多媒体 is not 媒体, 报警器 is not 报警, and an order number that contains 12345
is not the hotline), outside 《titles》 and quoted reply lines, and, for the
loss, theft, threat and blocked families, not right after a negation (没有丢失,
不是被盗, 不打算起诉).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from config.business import PHRASE_GROUPS, PriorityRules
from models.vocabulary import Priority

_SENTENCE = re.compile(r"[。！？!?;；\n]+")
_TITLE = re.compile(r"《[^》]{0,60}》")
_QUOTED_LINE = re.compile(r"^\s*>.*$", re.M)
_AMOUNT = re.compile(
    r"(?:[¥￥]\s*(\d+(?:,\d{3})*(?:\.\d+)?)|(\d+(?:,\d{3})*(?:\.\d+)?)\s*(?:元|块钱|块|rmb|人民币|蚊))",
    re.I,
)
_CN_AMOUNT = re.compile(r"([一二两三四五六七八九十百千万]+)\s*(?:元|块)")
_NEGATION_WINDOW = 4  # characters before a phrase where a negator cancels it

# Evidence order on the ticket: P1 families first.
_ORDER = (
    "core.blocked",
    "loss.money",
    "loss.data",
    "account.stolen",
    "safety",
    "public_opinion",
    "mass_impact",
    "core.degraded",
    "loss.money_small",
    "repeat",
)


def _tokens(text: str) -> list[str]:
    # jieba-rs (jieba's dictionary and algorithm, in Rust): the tokens of
    # jieba.lcut(HMM=False) at about 15x the speed, so the hot path affords it.
    import rjieba

    return rjieba.cut(text, hmm=False)


@dataclass(frozen=True)
class Match:
    start: int
    end: int
    phrase: str
    sentence: int


@dataclass(frozen=True)
class Signals:
    fired: tuple[str, ...]  # signal names, e.g. "loss.money"
    evidence: tuple[str, ...]  # "loss.money:扣了两次", for the ticket record
    max_amount: float | None = None

    def __contains__(self, name: object) -> bool:
        return name in self.fired


class SignalExtractor:
    def __init__(self, rules: PriorityRules) -> None:
        import ahocorasick

        self.rules = rules
        groups: dict[str, set[str]] = {}
        for g in PHRASE_GROUPS:
            for ph in getattr(rules, g):
                groups.setdefault(ph, set()).add(g)
        for ph in {x.lower() for fs in rules.core_functions.values() for x in fs}:
            groups.setdefault(ph, set()).add("function")
        # One automaton over every phrase: all matches, overlapping ones too,
        # in one pass over the text.
        self._automaton = ahocorasick.Automaton()
        for ph, gs in groups.items():
            self._automaton.add_word(ph, (ph, frozenset(gs)))
        self._automaton.make_automaton()
        self._negators = tuple(n.lower() for n in rules.negators)

    def _matches(self, text: str) -> dict[str, list[Match]]:
        found = [
            (end - len(ph) + 1, end + 1, ph, gs) for end, (ph, gs) in self._automaton.iter(text)
        ]
        if not found:
            return {}
        starts, ends = set(), set()
        pos = 0
        for tok in _tokens(text):
            starts.add(pos)
            pos += len(tok)
            ends.add(pos)
        cuts = [m.end() for m in _SENTENCE.finditer(text)]
        by_group: dict[str, list[Match]] = {}
        for a, b, ph, gs in found:
            if a not in starts or b not in ends:
                continue  # inside a longer word: 多媒体, 报警器, a long number
            m = Match(a, b, ph, bisect.bisect_right(cuts, a))
            for g in gs:
                by_group.setdefault(g, []).append(m)
        return by_group

    def extract(self, text: str) -> Signals:
        r = self.rules
        clean = _QUOTED_LINE.sub("", _TITLE.sub(" ", text)).lower()
        found = self._matches(clean)
        starts = [0] + [m.end() for m in _SENTENCE.finditer(clean)]
        fired: dict[str, str] = {}

        def kept(group: str) -> list[Match]:
            return [m for m in found.get(group, ()) if not self._negated(clean, m, starts)]

        def sentences(group: str) -> set[int]:
            return {m.sentence for m in found.get(group, ())}

        functions, degraded = sentences("function"), sentences("degraded")
        blocked = kept("blocked")
        for m in blocked:
            if m.sentence in functions:
                name = "core.degraded" if m.sentence in degraded else "core.blocked"
                fired.setdefault(name, m.phrase)
        for m in found.get("degraded", ()):
            if m.sentence in functions:
                fired.setdefault("core.degraded", m.phrase)
        for m in kept("money_taken"):
            fired.setdefault("loss.money", m.phrase)
        money = sentences("money_nouns")
        for m in kept("money_vanished"):
            if m.sentence in money:
                fired.setdefault("loss.money", m.phrase)
        data = sentences("data_nouns")
        for m in kept("data_vanished"):
            if m.sentence in data:
                fired.setdefault("loss.data", m.phrase)
        for group, name in (("account_stolen", "account.stolen"), ("safety", "safety")):
            for m in kept(group):
                fired.setdefault(name, m.phrase)
        for m in kept("public_opinion"):
            if not self._followed_by(clean, m, r.not_followed_by):
                fired.setdefault("public_opinion", m.phrase)
        for m in found.get("repeat", ()):
            fired.setdefault("repeat", m.phrase)

        amount = max_amount(clean)
        if "loss.money" in fired and amount is not None and amount <= r.small_amount_max:
            fired["loss.money_small"] = fired.pop("loss.money")
        many = found.get("mass_impact")
        if many and (blocked or "core.blocked" in fired or "core.degraded" in fired):
            fired.setdefault("mass_impact", many[0].phrase)
        names = tuple(n for n in _ORDER if n in fired)
        return Signals(names, tuple(f"{n}:{fired[n]}" for n in names), amount)

    def _negated(self, text: str, m: Match, starts: list[int]) -> bool:
        lo = max(starts[min(m.sentence, len(starts) - 1)], m.start - _NEGATION_WINDOW)
        before = text[lo : m.start]
        return any(n in before for n in self._negators)

    @staticmethod
    def _followed_by(text: str, m: Match, words: Sequence[str]) -> bool:
        rest = text[m.end : m.end + 8].lstrip()
        return any(rest.startswith(w) for w in words)


def max_amount(text: str) -> float | None:
    values = [float((a or b).replace(",", "")) for a, b in _AMOUNT.findall(text)]
    values += [v for v in (_cn_number(x) for x in _CN_AMOUNT.findall(text)) if v is not None]
    return max(values) if values else None


_CN_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}


def _cn_number(s: str) -> float | None:
    total, current = 0, 0
    for ch in s:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            unit = _CN_UNITS[ch]
            if unit == 10000:
                total = (total + (current or 1)) * unit
            else:
                total += (current or 1) * unit
            current = 0
        else:
            return None
    return float(total + current)


@dataclass(frozen=True)
class PriorityDecision:
    priority: Priority
    reasons: tuple[str, ...]  # for Triage.escalations: "signal:loss.money:扣了两次"
    final: bool  # a P1 signal fired: later rules and the model cannot lower it


def decide_priority(
    rules: PriorityRules,
    signals: Signals,
    model_priority: Priority,
    model_p1_probability: float,
    type_: str,
) -> PriorityDecision:
    """Model plus the explicit rules of priority.yaml (SPEC §5)."""
    evidence = {e.split(":", 1)[0]: e for e in signals.evidence}
    if type_ not in rules.rules.no_escalation_types:
        need = rules.rules.p1_needs_model_probability
        p1 = [
            evidence[n]
            for n in rules.rules.p1
            if n in signals and model_p1_probability >= need.get(n, 0.0)
        ]
        if p1:
            return PriorityDecision("P1", tuple(f"signal:{e}" for e in p1), True)
    priority = model_priority
    if priority == "P1" and model_p1_probability < rules.rules.model_p1_min_probability:
        priority = "P2"
    reasons: tuple[str, ...] = ()
    if type_ not in rules.rules.no_escalation_types:
        p2 = [evidence[n] for n in rules.rules.p2 if n in signals]
        if p2 and priority in ("P3", "P4"):
            priority = "P2"
            reasons = tuple(f"signal:{e}" for e in p2)
    return PriorityDecision(priority, reasons, False)
