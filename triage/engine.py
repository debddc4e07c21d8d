"""Triage of one batch of items: domain logic only, no I/O.

The same engine runs in the stream stage (``tingjian triage``) and in batch mode
(``tingjian classify``), so what the data team measures is what production does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from config.business import BusinessRules
from core.privacy import customer_key_of, mask_text
from models import FeedbackReceived, FeedbackTriaged, Quarantined, Triage
from models.vocabulary import Priority
from triage.classifier import Classifier, Prediction
from triage.normalize import Normalized, normalize
from triage.ports import (
    Deduplicator,
    DedupVerdict,
    KeywordExtractor,
    SegmentLookup,
    no_keywords,
)
from triage.rules import TopicTagger, at_least, raise_priority
from triage.signals import SignalExtractor, decide_priority
from triage.sla import compute_sla
from triage.summary import summarize

BatchObserver = Callable[
    [Sequence[tuple[str, str]], Sequence[str], Sequence[Prediction], str], None
]


@dataclass
class TriageEngine:
    rules: BusinessRules
    classifier: Classifier
    hash_key: str
    timezone: ZoneInfo
    # Used for a head whose bundle carries no calibrated threshold
    # (TriageBundle.review_thresholds).
    review_threshold: float = 0.55
    # Quarantine is never a ticket: an item is only called spam when sure;
    # otherwise it becomes a ticket of its runner-up type, marked for review.
    spam_min_confidence: float = 0.6
    dedup: Deduplicator | None = None
    keywords: KeywordExtractor = no_keywords
    # SPEC §4: the segment comes from CRM data, not from text.
    segments: SegmentLookup | None = None
    # Called with each batch's (channel, source_id) keys, model texts, the live
    # model's predictions and its version: shadow mode and drift watch here,
    # and never change a ticket.
    observers: list[BatchObserver] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._signals = SignalExtractor(self.rules.priority)
        # Years an SLA was computed for that the holiday calendar does not
        # cover (weekends only there): the service warns in its log and /healthz.
        self.calendar_gaps: set[int] = set()
        self._topics = TopicTagger.from_taxonomy(self.rules.taxonomy)

    def triage_batch(
        self, items: Sequence[FeedbackReceived], now: datetime
    ) -> list[FeedbackTriaged | Quarantined]:
        norms = [normalize(i.text, i.subject) for i in items]
        texts = [n.model_text for n in norms]
        preds = self.classifier.predict(texts)
        keys = [(i.channel, i.source_id) for i in items]
        for observe in self.observers:
            observe(keys, texts, preds, self.classifier.version)
        custs = [self._customer_key(i) for i in items]
        if self.segments is not None:
            known = self.segments([c for c in custs if c])
            items = [
                i.model_copy(
                    update={"customer": i.customer.model_copy(update={"segment": known[c]})}
                )
                if c in known and not i.customer.segment
                else i
                for i, c in zip(items, custs, strict=True)
            ]
        if self.dedup:
            self.dedup.begin_batch(
                list(zip(custs, items, strict=True)), [n.model_text for n in norms]
            )
        out = [
            self._decide(i, n, p, c, now)
            for i, n, p, c in zip(items, norms, preds, custs, strict=True)
        ]
        if self.dedup:
            self.dedup.end_batch(now)
        return out

    def _customer_key(self, item: FeedbackReceived) -> str | None:
        return customer_key_of(item, self.hash_key)

    def _decide(
        self,
        item: FeedbackReceived,
        norm: Normalized,
        pred: Prediction,
        cust: str | None,
        now: datetime,
    ) -> FeedbackTriaged | Quarantined:
        if not norm.text.strip():
            return Quarantined(
                feedback=item,
                reason="empty",
                detail="no text after normalisation",
                quarantined_at=now,
            )
        if (
            pred.type in self.rules.routing.quarantine_types
            and pred.type_confidence < self.spam_min_confidence
            and pred.type_alternative
        ):
            pred = replace(
                pred,
                type=pred.type_alternative,
                type_confidence=min(pred.type_confidence, self.review_threshold - 1e-6),
            )
        type_ = pred.type
        if type_ in self.rules.routing.quarantine_types:
            # SPEC §5: spam is P4; no dedup, no escalation, never a ticket.
            spam = self._triage(
                item,
                norm,
                pred,
                "P4",
                pred.priority_confidence,
                (),
                DedupVerdict(None, 0, False),
                None,
            )
            return Quarantined(
                feedback=item,
                reason=type_,
                detail=f"classified {type_} (confidence {pred.type_confidence:.2f})",
                quarantined_at=now,
                triage=spam,
            )

        signals = self._signals.extract(norm.text)
        decision = decide_priority(
            self.rules.priority, signals, pred.priority, pred.p1_probability, type_
        )
        priority: Priority = decision.priority
        p_conf = max(pred.priority_confidence, 0.95) if decision.final else pred.priority_confidence
        escalations: list[str] = list(decision.reasons)
        repeat: list[str] = []
        verdict = (
            self.dedup.check(item, cust, norm, type_, self._topics.tag(norm.text))
            if self.dedup
            else DedupVerdict(None, 0, False)
        )
        if verdict.duplicate_of:
            repeat.append("duplicate_of_open_item")
        if repeat and priority not in ("P1", "P2"):
            priority = at_least(priority, "P2")
            escalations += [f"repeat:{r}" for r in repeat]
        if item.customer.segment == "高价值客户" and priority != "P1":
            priority = raise_priority(priority)
            escalations.append("segment:高价值客户")
        if verdict.incident_p1 and priority != "P1":
            priority = "P1"
            escalations.append(f"incident:burst>={verdict.incident_size}")
        elif verdict.incident and priority not in ("P1",):
            priority = raise_priority(priority)
            escalations.append("incident:burst")
        retention = _is_retention(item)
        if retention and priority in ("P3", "P4"):
            priority = "P2"
            escalations.append("survey:retention")

        triage = self._triage(
            item, norm, pred, priority, p_conf, tuple(escalations), verdict, cust, signals.evidence
        )
        return FeedbackTriaged(
            feedback=item, triage=triage, normalized_text=norm.text, triaged_at=now
        )

    def _triage(
        self,
        item: FeedbackReceived,
        norm: Normalized,
        pred: Prediction,
        priority: Priority,
        p_conf: float,
        escalations: tuple[str, ...],
        verdict: DedupVerdict,
        cust: str | None,
        signals: tuple[str, ...] = (),
    ) -> Triage:
        rules = self.rules
        sla = compute_sla(item.received_at, priority, rules.sla, rules.calendar, self.timezone)
        for t in (sla.acknowledge_by, sla.resolve_by):
            if t is not None and not rules.calendar.covers(t.astimezone(self.timezone).year):
                self.calendar_gaps.add(t.astimezone(self.timezone).year)
        limits = getattr(self.classifier, "review_thresholds", None) or {}
        needs_review = pred.type_confidence < limits.get(
            "type", self.review_threshold
        ) or pred.sentiment_confidence < limits.get("sentiment", self.review_threshold)
        return Triage(
            type=pred.type,
            type_confidence=round(pred.type_confidence, 4),
            priority=priority,
            priority_confidence=round(p_conf, 4),
            sentiment=pred.sentiment,
            sentiment_score=max(-1.0, min(1.0, round(pred.sentiment_score, 4))),
            topics=self._topics.tag(norm.text),
            # The summary travels to consoles, webhooks and reports: masked at birth.
            summary=summarize(mask_text(norm.text)),
            keywords=pred.keywords or self.keywords(norm.model_text, 5),
            department=rules.routing.departments[pred.type],
            sla=sla,
            needs_review=needs_review,
            escalations=escalations,
            signals=signals,
            duplicate_of=verdict.duplicate_of,
            repeat_count=verdict.repeat_count,
            merge_reasons=verdict.merge_reasons,
            incident=verdict.incident,
            customer_key=cust,
            entities=norm.entities,
            model_version=self.classifier.version,
            labels=dict(pred.labels),
        )


def _is_retention(item: FeedbackReceived) -> bool:
    """SPEC §12: an NPS of 6 or lower (given on a survey or on the web form) or
    an explicit 不满意 in a survey answer is a retention item."""
    nps = item.metadata.get("nps")
    if nps is not None:
        try:
            if float(nps) <= 6:
                return True
        except ValueError:
            pass
    if item.channel != "survey":
        return False
    return "不满意" in item.text or item.metadata.get("satisfaction") == "不满意"
