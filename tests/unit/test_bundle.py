"""Model bundles: verified on load, refused when tampered, hot-swapped."""

import os
import time
from pathlib import Path

import pytest

from core.errors import ModelError
from triage.bundle import load_bundle, save_bundle
from triage.classifier import KeywordClassifier
from triage.reload import ModelWatcher
from triage.training import Example, fit_bundle

TEXTS = {
    "bug": ["APP闪退了", "支付报错", "页面打不开", "登录失败", "上传失败一直报错"],
    "praise": ["客服很耐心，点赞", "非常满意，谢谢", "服务太贴心了", "给你们好评", "小王很专业"],
}


def rows() -> list[Example]:
    out = []
    for t, texts in TEXTS.items():
        for i, text in enumerate(texts * 2):
            out.append(
                Example(
                    f"{t}{i}",
                    "web_form",
                    None,
                    text,
                    t,
                    "P2" if t == "bug" else "P4",
                    "negative" if t == "bug" else "positive",
                )
            )
    return out


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("m") / "triage.bundle"
    save_bundle(fit_bundle(rows(), data_hash="abc"), path)
    return path


def test_bundle_roundtrip_predicts_and_records_provenance(bundle_path: Path) -> None:
    b = load_bundle(bundle_path)
    p = b.predict(["APP又闪退了", "客服很耐心"])
    assert [x.type for x in p] == ["bug", "praise"]
    assert all(0 <= x.type_confidence <= 1 and -1 <= x.sentiment_score <= 1 for x in p)
    assert b.meta["libraries"]["scikit-learn"]
    assert b.meta["data_sha256"] == "abc"


def test_tampered_bundle_is_refused(bundle_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "triage.bundle"
    bad.write_bytes(bundle_path.read_bytes() + b"x")
    (tmp_path / "triage.bundle.json").write_bytes(
        (bundle_path.parent / "triage.bundle.json").read_bytes()
    )
    with pytest.raises(ModelError, match="does not match"):
        load_bundle(bad)


def test_watcher_promotes_a_good_bundle_and_refuses_a_bad_one(
    bundle_path: Path, tmp_path: Path
) -> None:
    from zoneinfo import ZoneInfo

    from config import load_business_rules, load_settings
    from triage.engine import TriageEngine

    engine = TriageEngine(
        load_business_rules(load_settings().business),
        KeywordClassifier(),
        "k" * 16,
        ZoneInfo("Asia/Shanghai"),
    )
    live = tmp_path / "live.bundle"
    w = ModelWatcher(engine, str(live), every_s=0)
    assert not w.maybe_reload()  # nothing there yet: the baseline keeps serving
    save_bundle(load_bundle(bundle_path), live)
    assert w.maybe_reload()
    good = engine.classifier.version
    assert good.startswith("tj-")
    time.sleep(0.01)
    live.write_bytes(live.read_bytes()[:-10])  # a broken copy lands
    os.utime(live)
    assert not w.maybe_reload()
    assert engine.classifier.version == good and w.refused


def test_a_new_head_is_one_definition_and_reaches_the_triage(tmp_path: Path) -> None:
    """A head beyond the core three trains from its examples' labels and its
    label travels as Triage.labels, with no change to bundle, engine or contract."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from config import load_business_rules, load_settings
    from models import FeedbackReceived, FeedbackTriaged
    from triage.engine import TriageEngine
    from triage.heads import Head, field_label, load_heads
    from triage.heads.estimators import logistic

    urgent = Head("urgent", ("yes", "no"), logistic, field_label("urgent"))
    labeled = [
        Example(
            r.id,
            r.channel,
            r.subject,
            r.text,
            r.type,
            r.priority,
            r.sentiment,
            {"urgent": "yes" if r.type == "bug" else "no"},
        )
        for r in rows()
    ]
    bundle = fit_bundle(labeled, heads=(*load_heads(), urgent))
    assert set(bundle.heads) == {"type", "priority", "sentiment", "urgent"}
    save_bundle(bundle, tmp_path / "b")
    loaded = load_bundle(tmp_path / "b")
    assert [p.labels["urgent"] for p in loaded.predict(["APP又闪退了", "客服很耐心"])] == [
        "yes",
        "no",
    ]
    engine = TriageEngine(
        load_business_rules(load_settings().business), loaded, "k" * 16, ZoneInfo("Asia/Shanghai")
    )
    now = datetime.now(UTC)
    (res,) = engine.triage_batch(
        [FeedbackReceived(channel="web_form", source_id="1", received_at=now, text="APP闪退了")],
        now,
    )
    assert isinstance(res, FeedbackTriaged) and res.triage.labels == {"urgent": "yes"}


def test_the_fast_tfidf_equals_scikit_learns(tmp_path: Path) -> None:
    import numpy as np

    from triage.fast_tfidf import FastCharTfidf

    bundle = fit_bundle(rows())
    texts = [r.text for r in rows()] + ["  多个   空格 和 English MIXED ", "", "😀😀 emoji"]
    ours = FastCharTfidf(bundle.vectorizer).transform(texts)
    theirs = bundle.vectorizer.transform(texts)
    assert ours.shape == theirs.shape
    assert np.abs((ours - theirs).toarray()).max() < 1e-12
    # and the bundle uses it, and it is not pickled along
    bundle.predict(texts[:2])
    assert bundle._fast is not None
    import pickle

    assert pickle.loads(pickle.dumps(bundle))._fast is None
    save_bundle(bundle, tmp_path / "b.bundle")
