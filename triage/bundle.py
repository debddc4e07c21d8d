"""The trained triage model bundle: three calibrated linear classifiers on
character n-grams (type, priority, sentiment), saved with library versions,
training-data hash and cross-validated metrics.

File layout: ``NAME`` (pickle) and ``NAME.json`` (manifest with the pickle's
sha256). A bundle whose bytes do not match the manifest is refused.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from core.errors import ModelError
from models.vocabulary import FeedbackType, Priority, Sentiment
from triage.classifier import Prediction
from triage.heads import CORE_HEADS, HeadOutput

_PLACEHOLDERS = {"URL", "EMAIL", "PHONE", "ORDERNO"}
# Function words and fillers that carry no topic, frequent in feedback.
_STOP = frozenset(
    [
        "一直",
        "以后",
        "之后",
        "现在",
        "已经",
        "还是",
        "不行",
        "没有",
        "什么",
        "怎么",
        "这个",
        "那个",
        "我们",
        "你们",
        "他们",
        "自己",
        "就是",
        "但是",
        "然后",
        "因为",
        "所以",
        "可以",
        "不能",
        "一下",
        "一个",
        "还有",
        "而且",
        "或者",
        "如果",
        "这样",
        "那样",
        "真的",
        "非常",
        "感觉",
        "时候",
        "问题",
        "请问",
        "您好",
        "你好",
        "谢谢",
        "麻烦",
    ]
)
SENTIMENT_SIGN = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}


@dataclass
class TriageBundle:
    """A fitted vectorizer and one fitted estimator per head (triage/heads/)."""

    version: str
    vectorizer: Any
    heads: dict[str, Any]  # head name -> fitted estimator (predict_proba, classes_)
    meta: dict[str, Any] = field(default_factory=dict)
    _kw_index: Any = None
    _fast: Any = None  # FastCharTfidf, built on first use, never pickled

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_kw_index"] = state["_fast"] = None  # derived; rebuilt on first use
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("_fast", None)
        self.__dict__.update(state)

    def transform(self, texts: Sequence[str]) -> Any:
        """The vectorizer's features (in C for a char n-gram vectorizer)."""
        from triage.fast_tfidf import FastCharTfidf

        if self._fast is None:
            self._fast = (
                FastCharTfidf(self.vectorizer)
                if FastCharTfidf.supports(self.vectorizer)
                else self.vectorizer
            )
        return self._fast.transform(texts)

    @property
    def review_thresholds(self) -> dict[str, float]:
        """Confidence below which a label needs a human, per head, calibrated
        at training time on cross-validated predictions (sentiment: the
        confidence that reaches 95 % precision, SPEC §4)."""
        return {str(k): float(v) for k, v in (self.meta.get("review_thresholds") or {}).items()}

    def head_outputs(self, X: Any) -> dict[str, list[HeadOutput]]:
        """Every head's label, confidence and ranking for each row of X."""
        out: dict[str, list[HeadOutput]] = {}
        for name, model in self.heads.items():
            proba = model.predict_proba(X)
            classes = [str(c) for c in model.classes_]
            rows = []
            for p in proba:
                order = np.argsort(-p)
                ranked = tuple((classes[int(j)], float(p[int(j)])) for j in order)
                rows.append(HeadOutput(ranked[0][0], ranked[0][1], ranked))
            out[name] = rows
        return out

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        X = self.transform(texts)
        heads = self.head_outputs(X)
        sent_model = self.heads["sentiment"]
        signs = np.array([SENTIMENT_SIGN[str(c)] for c in sent_model.classes_])
        sent_proba = sent_model.predict_proba(X)
        extra = [n for n in heads if n not in CORE_HEADS]
        kw = self._keyword_columns()
        out: list[Prediction] = []
        for i in range(len(texts)):
            t, p, s = heads["type"][i], heads["priority"][i], heads["sentiment"][i]
            out.append(
                Prediction(
                    type=cast(FeedbackType, t.label),
                    type_confidence=t.confidence,
                    priority=cast(Priority, p.label),
                    priority_confidence=p.confidence,
                    sentiment=cast(Sentiment, s.label),
                    # expected polarity: P(pos) - P(neg), in [-1, 1]
                    sentiment_score=float(np.clip(sent_proba[i] @ signs, -1, 1)),
                    sentiment_confidence=s.confidence,
                    keywords=self._row_keywords(X, i, kw),
                    type_alternative=(
                        cast(FeedbackType, t.ranked[1][0]) if len(t.ranked) > 1 else None
                    ),
                    labels={n: heads[n][i].label for n in extra},
                    p1_probability=dict(p.ranked).get("P1", 0.0),
                )
            )
        return out

    def _keyword_columns(self) -> Any:
        """Columns of the char n-gram matrix that are words (seen by jieba in
        training) and not stop words: keywords come from the features already
        computed, with no second segmentation on the hot path."""
        if self._kw_index is None:
            idf = self.meta.get("keyword_idf", {})
            names = self.vectorizer.get_feature_names_out()
            mask = np.array(
                [len(n) >= 2 and n in idf and n not in _STOP and not n.isdigit() for n in names]
            )
            self._kw_index = (mask, names)
        return self._kw_index

    @staticmethod
    def _row_keywords(X: Any, i: int, kw: Any, k: int = 5) -> tuple[str, ...]:
        mask, names = kw
        lo, hi = X.indptr[i], X.indptr[i + 1]
        cols, vals = X.indices[lo:hi], X.data[lo:hi]
        keep = mask[cols]
        cols, vals = cols[keep], vals[keep]
        if not len(cols):
            return ()
        top = cols[np.argsort(-vals)[: k * 3]]
        out: list[str] = []
        for c in top:  # drop a keyword contained in a better one (服务 inside 服务态度)
            w = str(names[c])
            if not any(w in o or o in w for o in out):
                out.append(w)
            if len(out) == k:
                break
        return tuple(out)

    def keywords(self, text: str, k: int) -> tuple[str, ...]:
        """Top words of the text by corpus IDF (jieba segmentation)."""
        from triage.features import jieba_words

        idf: dict[str, float] = self.meta.get("keyword_idf", {})
        if not idf:
            return ()
        seen: dict[str, float] = {}
        for w in jieba_words(text):
            if len(w) >= 2 and w in idf and w not in _PLACEHOLDERS and w not in _STOP:
                seen[w] = seen.get(w, 0.0) + idf[w]
        return tuple(sorted(seen, key=lambda w: -seen[w])[:k])


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_bundle(bundle: TriageBundle, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(bundle, fh, protocol=pickle.HIGHEST_PROTOCOL)
    manifest = {
        "version": bundle.version,
        "sha256": file_sha256(tmp),
        "python": platform.python_version(),
        **{k: v for k, v in bundle.meta.items() if k != "keyword_idf"},
    }
    mtmp = path.with_name(path.name + ".json.tmp")
    mtmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    # Manifest first, then the model: a watcher that sees the new model file
    # always finds the manifest that vouches for it.
    mtmp.replace(path.with_name(path.name + ".json"))
    tmp.replace(path)
    return path


def load_bundle(path: Path) -> TriageBundle:
    manifest_path = path.with_name(path.name + ".json")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"model manifest {manifest_path} missing or unreadable: {exc}") from exc
    actual = file_sha256(path)
    if manifest.get("sha256") != actual:
        raise ModelError(
            f"model {path} does not match its manifest (sha256 {actual[:12]}… != "
            f"{str(manifest.get('sha256'))[:12]}…): refusing to load it"
        )
    import sklearn

    if manifest.get("libraries", {}).get("scikit-learn") not in (None, sklearn.__version__):
        raise ModelError(
            f"model {path} was trained with scikit-learn {manifest['libraries']['scikit-learn']},"
            f" this is {sklearn.__version__}: retrain with `tingjian model train`"
        )
    try:
        with path.open("rb") as fh:
            bundle = pickle.load(fh)
    except Exception as exc:
        raise ModelError(f"cannot unpickle model {path}: {exc}") from exc
    if not isinstance(bundle, TriageBundle):
        raise ModelError(f"{path} is not a triage bundle")
    missing = [h for h in CORE_HEADS if h not in getattr(bundle, "heads", {})]
    if missing:
        raise ModelError(
            f"model {path} has no {', '.join(missing)} head (an older layout):"
            " retrain with `tingjian model train`"
        )
    return bundle
