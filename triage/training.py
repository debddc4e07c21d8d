"""Training and evaluation of the triage bundle (data team tools, no Kafka).

``tingjian model train`` fits the bundle on the labeled feedback;
``tingjian eval`` measures the production path (normalise -> model -> rules)
with stratified k-fold cross-validation, and sentiment across domains.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import random
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedGroupKFold

from config.business import BusinessRules
from models import vocabulary
from triage.bundle import TriageBundle
from triage.features import compact, jieba_words
from triage.heads import CORE_HEADS, Head, load_heads
from triage.normalize import normalize

TYPES: list[str] = list(vocabulary.TYPES)
PRIORITIES: list[str] = list(vocabulary.PRIORITIES)
SENTIMENTS: list[str] = list(vocabulary.SENTIMENTS)


@dataclass(frozen=True)
class Example:
    id: str
    channel: str
    subject: str | None
    text: str
    type: str
    priority: str
    sentiment: str
    # Gold labels of heads beyond the core three (triage/heads/), by head name.
    labels: dict[str, str] = field(default_factory=dict)
    # Items written from one scenario share a group: cross-validation keeps a
    # group in one fold, so that a near-variant never tests its sibling.
    group: str = ""
    industry: str = ""
    p1_family: str | None = None
    hard_negative: str | None = None
    style: str = ""

    def gold(self, head: Head) -> str | None:
        return head.gold({**self.labels, **asdict(self)})


def load_labeled(path: Path) -> list[Example]:
    """One labeled file (data/GUIDELINES.md), or every ``*.jsonl`` of a folder."""
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise ValueError(f"no *.jsonl file in {path}")
        return [r for f in files for r in load_labeled(f)]
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(example_of(json.loads(line)))
            except (KeyError, TypeError, json.JSONDecodeError) as exc:
                raise ValueError(f"{path}:{n}: not a labeled item ({exc})") from exc
    return out


def example_of(d: dict[str, Any]) -> Example:
    """One labeled item (data/GUIDELINES.md schema, also what
    ``corrections export`` writes); KeyError/TypeError when it is not one."""
    industry = str(d.get("industry") or "")
    return Example(
        d["id"],
        d["channel"],
        d.get("subject"),
        d["text"],
        d["type"],
        d["priority"],
        d["sentiment"],
        {str(k): str(v) for k, v in (d.get("labels") or {}).items()},
        group=f"{industry}/{d.get('template') or d['id']}",
        industry=industry,
        p1_family=d.get("p1_family"),
        hard_negative=d.get("hard_negative"),
        style=str(d.get("style") or ""),
    )


def rows_hash(paths: Sequence[Path]) -> str:
    """sha256 over the labeled files, in name order (a folder: its *.jsonl)."""
    h = hashlib.sha256()
    for p in paths:
        for f in sorted(p.glob("*.jsonl")) if p.is_dir() else [p]:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def class_counts(rows: Sequence[Example]) -> dict[str, dict[str, int]]:
    return {
        key: dict(Counter(str(getattr(r, key)) for r in rows).most_common())
        for key in ("type", "priority", "sentiment", "channel", "industry", "p1_family")
    }


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vectorizer() -> TfidfVectorizer:
    # Character 1-3-grams measured better than jieba words on this data (see
    # `tingjian eval --features words`) and are ~10x faster to compute.
    return TfidfVectorizer(
        analyzer="char",
        ngram_range=(1, 3),
        preprocessor=compact,
        sublinear_tf=True,
        min_df=1,
        max_features=300_000,
    )


def word_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(
        tokenizer=jieba_words,
        token_pattern=None,
        lowercase=True,
        sublinear_tf=True,
        ngram_range=(1, 2),
    )


def model_texts(rows: Sequence[Example]) -> list[str]:
    return [normalize(r.text, r.subject).model_text for r in rows]


def fit_bundle(
    rows: Sequence[Example],
    *,
    features: str = "chars",
    data_hash: str = "",
    extra_meta: dict[str, Any] | None = None,
    heads: Sequence[Head] | None = None,
) -> TriageBundle:
    import jieba
    import sklearn
    import snownlp  # noqa: F401 - recorded for provenance of the baseline

    texts = model_texts(rows)
    vec = vectorizer() if features == "chars" else word_vectorizer()
    X = vec.fit_transform(texts)
    fitted: dict[str, Any] = {}
    for head in heads if heads is not None else load_heads(CORE_HEADS):
        idx = [i for i, r in enumerate(rows) if r.gold(head) is not None]
        if len(idx) < len(rows) and head.name in CORE_HEADS:
            raise ValueError(f"{len(rows) - len(idx)} examples have no {head.name} label")
        y = [rows[i].gold(head) for i in idx]
        fitted[head.name] = head.make_estimator().fit(X[idx], y)
    # IDF over jieba words for keyword extraction.
    docs = Counter(w for t in texts for w in set(jieba_words(t)))
    n = len(texts)
    idf = {w: math.log((1 + n) / (1 + c)) + 1 for w, c in docs.items() if len(w) >= 2}
    version = f"tj-{features}-ridge-{datetime.now(UTC):%Y%m%d%H%M%S}-{data_hash[:8]}"
    meta = {
        "trained_at": datetime.now(UTC).isoformat(),
        "features": features,
        "data_sha256": data_hash,
        "n_examples": n,
        "libraries": {
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "jieba": jieba.__version__,
        },
        "heads": list(fitted),
        "keyword_idf": idf,
        **(extra_meta or {}),
    }
    return TriageBundle(version, vec, fitted, meta)


# ---------------------------------------------------------------- evaluation


def _report(
    name: str, y_true: Sequence[str], y_pred: Sequence[str], labels: list[str]
) -> dict[str, Any]:
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "name": name,
        "labels": labels,
        "per_class": {
            lab: {
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f[i]),
                "support": int(s[i]),
            }
            for i, lab in enumerate(labels)
        },
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        ),
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


@dataclass
class Predicted:
    """What the production path (engine = normalise + bundle + rules) made of
    labeled rows, aligned with them."""

    type: list[str]
    priority: list[str]
    sentiment: list[str]
    type_confidence: list[float]
    sentiment_confidence: list[float]
    needs_review: list[bool] = field(default_factory=list)


def predict_rows(
    bundle: Any,
    rows: Sequence[Example],
    *,
    rules: BusinessRules,
    tz: ZoneInfo,
    hash_key: str,
) -> Predicted:
    from models import Customer, FeedbackReceived, Quarantined
    from triage.engine import TriageEngine

    now = datetime.now(UTC)
    engine = TriageEngine(rules, bundle, hash_key, tz)
    items = [
        FeedbackReceived(
            channel=r.channel if r.channel in vocabulary.CHANNELS else "web_form",
            source_id=r.id,
            received_at=now,
            subject=r.subject,
            text=r.text,
            customer=Customer(),
        )
        for r in rows
    ]
    preds = bundle.predict(model_texts(rows))
    out = Predicted([], [], [], [], [])
    for pred, res in zip(preds, engine.triage_batch(items, now), strict=True):
        out.sentiment.append(pred.sentiment)
        out.sentiment_confidence.append(pred.sentiment_confidence)
        out.type_confidence.append(pred.type_confidence)
        if isinstance(res, Quarantined):
            out.type.append("spam")
            out.priority.append("P4")
            out.needs_review.append(False)
        else:
            out.type.append(res.triage.type)
            out.priority.append(res.triage.priority)
            out.needs_review.append(res.triage.needs_review)
    return out


def score(rows: Sequence[Example], got: Predicted) -> dict[str, Any]:
    """Per-class reports, P1 recall and precision, calibration and the
    sentiment confidence that reaches 95 % precision."""
    prio = _report("priority (model + rules)", [r.priority for r in rows], got.priority, PRIORITIES)
    sent_ok = [p == r.sentiment for p, r in zip(got.sentiment, rows, strict=True)]
    type_ok = [p == r.type for p, r in zip(got.type, rows, strict=True)]
    return {
        "n": len(rows),
        "type": _report("type", [r.type for r in rows], got.type, TYPES),
        "priority": prio,
        "sentiment": _report("sentiment", [r.sentiment for r in rows], got.sentiment, SENTIMENTS),
        "p1": {
            "recall": prio["per_class"]["P1"]["recall"],
            "precision": prio["per_class"]["P1"]["precision"],
            "support": prio["per_class"]["P1"]["support"],
        },
        "calibration": {
            "type_ece": expected_calibration_error(got.type_confidence, type_ok),
            "sentiment_ece": expected_calibration_error(got.sentiment_confidence, sent_ok),
        },
        "sentiment_review": precision_threshold(got.sentiment_confidence, sent_ok, 0.95),
        "needs_review_share": (
            sum(got.needs_review) / len(got.needs_review) if got.needs_review else None
        ),
        "type_review": precision_threshold(got.type_confidence, type_ok, 0.90),
    }


def precision_threshold(
    conf: Sequence[float], correct: Sequence[bool], target: float
) -> dict[str, float | None]:
    """The lowest confidence t such that labels with confidence >= t are right
    at least ``target`` of the time, and the share of items at or above it
    (what needs no human review). None when no threshold reaches the target."""
    order = sorted(zip(conf, correct, strict=True), key=lambda x: -x[0])
    best: float | None = None
    covered = 0.0
    right = 0
    for k, (c, ok) in enumerate(order, 1):
        right += ok
        if right / k >= target and (k == len(order) or order[k][0] < c):
            best, covered = c, k / len(order)
    return {"target": target, "threshold": best, "coverage": covered}


def crossval(
    rows: Sequence[Example],
    *,
    rules: BusinessRules,
    tz: ZoneInfo,
    hash_key: str,
    folds: int = 5,
    features: str = "chars",
    seed: int = 13,
    heads: Sequence[Head] | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Group-aware stratified k-fold over the production path: items of one
    scenario (``group``) never sit on both sides of a split."""
    n = len(rows)
    got = Predicted([""] * n, [""] * n, [""] * n, [0.0] * n, [0.0] * n)
    groups = [r.group or r.id for r in rows]
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    strat = [r.type for r in rows]
    for k, (train_idx, test_idx) in enumerate(splitter.split(np.zeros(n), strat, groups), 1):
        bundle = fit_bundle([rows[i] for i in train_idx], features=features, heads=heads)
        part = predict_rows(
            bundle, [rows[i] for i in test_idx], rules=rules, tz=tz, hash_key=hash_key
        )
        for j, i in enumerate(test_idx):
            got.type[i], got.priority[i] = part.type[j], part.priority[j]
            got.sentiment[i] = part.sentiment[j]
            got.type_confidence[i] = part.type_confidence[j]
            got.sentiment_confidence[i] = part.sentiment_confidence[j]
        if progress:
            progress(k, folds)
    return {"folds": folds, "features": features, "groups": len(set(groups)), **score(rows, got)}


def expected_calibration_error(
    conf: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by size:
    how far a label's confidence is from how often such labels are right."""
    c = np.asarray(conf, dtype=float)
    ok = np.asarray(correct, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        m = (c > lo) & (c <= hi)
        if m.any():
            ece += m.mean() * abs(ok[m].mean() - c[m].mean())
    return float(ece)


def snownlp_baseline(rows: Sequence[Example]) -> dict[str, Any]:
    """snownlp's sentiment as a 3-class baseline (thresholds 0.35 / 0.65)."""
    from snownlp import SnowNLP

    pred = []
    for r in rows:
        s = SnowNLP(r.text).sentiments
        pred.append("negative" if s < 0.35 else "positive" if s > 0.65 else "neutral")
    return _report("sentiment (snownlp baseline)", [r.sentiment for r in rows], pred, SENTIMENTS)


def review_sentiment(
    bundle: Any, data_dir: Path, *, per_corpus: int = 3000, seed: int = 13
) -> list[dict[str, Any]]:
    """Binary sentiment (positive vs negative, whichever of the two the
    product's model finds likelier) on real public review corpora the model
    never saw: a sample of each."""
    sources = [
        ("online_shopping_10_cats", "online_shopping_10_cats/online_shopping_10_cats.csv"),
        ("ChnSentiCorp_htl_all (hotel)", "ChnSentiCorp_htl_all/ChnSentiCorp_htl_all.csv"),
    ]
    results = []
    rnd = random.Random(seed)
    for name, rel in sources:
        path = data_dir / "public" / rel
        if not path.is_file():
            continue
        with path.open(encoding="utf-8-sig") as fh:
            reviews = [
                (r["review"], int(r["label"])) for r in csv.DictReader(fh) if r.get("review")
            ]
        rnd.shuffle(reviews)
        sample = reviews[:per_corpus]
        X = bundle.transform([normalize(t).model_text for t, _ in sample])
        model = bundle.heads["sentiment"]
        proba = model.predict_proba(X)
        classes = [str(c) for c in model.classes_]
        pos, neg = classes.index("positive"), classes.index("negative")
        pred = (proba[:, pos] > proba[:, neg]).astype(int)
        acc = float(np.mean(pred == np.array([lab for _, lab in sample])))
        limits = bundle.review_thresholds
        heads = bundle.head_outputs(X)
        review = [
            t.confidence < limits.get("type", 0.55) or s.confidence < limits.get("sentiment", 0.55)
            for t, s in zip(heads["type"], heads["sentiment"], strict=True)
        ]
        results.append(
            {
                "corpus": name,
                "n": len(sample),
                "accuracy": acc,
                "needs_review_share": sum(review) / len(review),
            }
        )
    return results


def format_report(rep: dict[str, Any]) -> str:
    lines = [
        f"{rep['name']}: macro-F1 {rep['macro_f1']:.3f}",
        f"  {'class':<11}{'prec':>7}{'recall':>8}{'f1':>7}{'n':>6}",
    ]
    for lab, m in rep["per_class"].items():
        lines.append(
            f"  {lab:<11}{m['precision']:>7.3f}{m['recall']:>8.3f}{m['f1']:>7.3f}{m['support']:>6}"
        )
    labels = rep["labels"]
    lines.append("  confusion (rows = true, cols = predicted): " + " ".join(labels))
    for lab, row in zip(labels, rep["confusion"], strict=True):
        lines.append(f"  {lab:<11}" + "".join(f"{v:>6}" for v in row))
    return "\n".join(lines)


def timed(fn: Any, *a: Any, **kw: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    r = fn(*a, **kw)
    return r, time.perf_counter() - t


def iter_chunks(xs: Iterable[Any], n: int) -> Iterable[list[Any]]:
    buf: list[Any] = []
    for x in xs:
        buf.append(x)
        if len(buf) == n:
            yield buf
            buf = []
    if buf:
        yield buf
