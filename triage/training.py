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
from sklearn.model_selection import StratifiedKFold

from config.business import BusinessRules
from models import vocabulary
from triage.bundle import TriageBundle
from triage.features import compact, jieba_words
from triage.heads import CORE_HEADS, Head, load_heads
from triage.heads.estimators import logistic
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

    def gold(self, head: Head) -> str | None:
        return head.gold({**self.labels, **asdict(self)})


def load_labeled(path: Path) -> list[Example]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                d = json.loads(line)
                out.append(
                    Example(
                        d["id"],
                        d["channel"],
                        d.get("subject"),
                        d["text"],
                        d["type"],
                        d["priority"],
                        d["sentiment"],
                        {str(k): str(v) for k, v in (d.get("labels") or {}).items()},
                    )
                )
    return out


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
) -> dict[str, Any]:
    """Stratified k-fold over the production path: engine = normalise + bundle + rules."""
    from models import Customer, FeedbackReceived, Quarantined
    from triage.engine import TriageEngine

    pred_type = [""] * len(rows)
    pred_prio = [""] * len(rows)
    pred_sent = [""] * len(rows)
    conf_type = [0.0] * len(rows)
    conf_sent = [0.0] * len(rows)
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    strat = [f"{r.type}" for r in rows]
    now = datetime.now(UTC)
    for train_idx, test_idx in skf.split(np.zeros(len(rows)), strat):
        bundle = fit_bundle([rows[i] for i in train_idx], features=features, heads=heads)
        engine = TriageEngine(rules, bundle, hash_key, tz)
        items = [
            FeedbackReceived(
                channel=rows[i].channel,
                source_id=rows[i].id,
                received_at=now,
                subject=rows[i].subject,
                text=rows[i].text,
                customer=Customer(),
            )
            for i in test_idx
        ]
        preds = bundle.predict(model_texts([rows[i] for i in test_idx]))
        for j, (i, res) in enumerate(zip(test_idx, engine.triage_batch(items, now), strict=True)):
            pred_sent[i] = preds[j].sentiment
            conf_sent[i] = preds[j].sentiment_confidence
            conf_type[i] = preds[j].type_confidence
            if isinstance(res, Quarantined):
                pred_type[i], pred_prio[i] = "spam", "P4"
            else:
                pred_type[i], pred_prio[i] = res.triage.type, res.triage.priority
    return {
        "folds": folds,
        "features": features,
        "n": len(rows),
        "type": _report("type", [r.type for r in rows], pred_type, TYPES),
        "priority": _report(
            "priority (model + rules)", [r.priority for r in rows], pred_prio, PRIORITIES
        ),
        "sentiment": _report("sentiment", [r.sentiment for r in rows], pred_sent, SENTIMENTS),
        "calibration": {
            "type_ece": expected_calibration_error(
                conf_type, [p == r.type for p, r in zip(pred_type, rows, strict=True)]
            ),
            "sentiment_ece": expected_calibration_error(
                conf_sent, [p == r.sentiment for p, r in zip(pred_sent, rows, strict=True)]
            ),
        },
    }


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


def _read_reviews(data_dir: Path) -> tuple[list[tuple[str, str, int]], list[tuple[str, int]]]:
    shop = []
    with (data_dir / "public/online_shopping_10_cats/online_shopping_10_cats.csv").open(
        encoding="utf-8-sig"
    ) as fh:
        for row in csv.DictReader(fh):
            if row.get("review"):
                shop.append((row["cat"], row["review"], int(row["label"])))
    hotel = []
    with (data_dir / "public/ChnSentiCorp_htl_all/ChnSentiCorp_htl_all.csv").open(
        encoding="utf-8-sig"
    ) as fh:
        for row in csv.DictReader(fh):
            if row.get("review"):
                hotel.append((row["review"], int(row["label"])))
    return shop, hotel


def cross_domain_sentiment(
    data_dir: Path, *, per_domain: int = 100_000, seed: int = 13
) -> list[dict[str, Any]]:
    """Binary sentiment trained on some review domains, tested on one held out."""
    shop, hotel = _read_reviews(data_dir)
    rnd = random.Random(seed)
    by_cat: dict[str, list[tuple[str, int]]] = {}
    for cat, text, lab in shop:
        by_cat.setdefault(cat, []).append((text, lab))
    for v in by_cat.values():
        rnd.shuffle(v)
    results = []
    held_outs = [
        ("ChnSentiCorp 酒店 (hotel)", hotel, {"酒店"}),
        ("online_shopping 水果", by_cat.get("水果", []), {"水果"}),
        ("online_shopping 书籍", by_cat.get("书籍", []), {"书籍"}),
    ]
    for name, test, exclude in held_outs:
        train = [x for cat, xs in by_cat.items() if cat not in exclude for x in xs[:per_domain]]
        test = list(test)
        rnd.shuffle(test)
        test = test[:3000]
        vec = vectorizer()
        X = vec.fit_transform([normalize(t).model_text for t, _ in train])
        m = logistic(4.0).fit(X, [lab for _, lab in train])
        pred = m.predict(vec.transform([normalize(t).model_text for t, _ in test]))
        acc = float(np.mean(pred == np.array([lab for _, lab in test])))
        results.append(
            {
                "held_out": name,
                "train_examples": len(train),
                "test_examples": len(test),
                "accuracy": acc,
                "train_domains": sorted(c for c in by_cat if c not in exclude),
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
