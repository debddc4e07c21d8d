"""The registry's pointer and history, the gate's arithmetic, drift's distance."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ModelError
from triage.bundle import TriageBundle
from triage.drift import DriftGauges, compare_distributions
from triage.gate import compare
from triage.registry import Registry


def _bundle(version: str) -> TriageBundle:
    # A bundle needs no fitted estimator to be kept and pointed at.
    return TriageBundle(version, None, {}, {"trained_at": version})


def _scores(type_f1: float, p1: float) -> dict[str, object]:
    return {
        "type": {"macro_f1": type_f1},
        "priority": {"macro_f1": 0.8},
        "sentiment": {"macro_f1": 0.8},
        "p1": {"recall": p1, "support": 10},
    }


def test_promote_and_rollback_walk_the_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = Registry(tmp_path / "reg")
    live = tmp_path / "live" / "triage.bundle"
    # load_bundle insists on the core heads; the pointer logic does not care.
    monkeypatch.setattr(Registry, "load", lambda self, v: _bundle(v))
    for v in ("a", "b", "c"):
        reg.register(_bundle(v), {"trained_by": "t"})
    assert [v.id for v in reg.versions()] == ["a", "b", "c"]
    reg.set_live("a", live, by="t", action="promote")
    reg.set_live("b", live, by="t", action="promote")
    assert live.read_bytes() == (tmp_path / "reg" / "b" / "triage.bundle").read_bytes()
    assert reg.rollback(live, by="t") == ("b", "a")
    assert reg.live() == "a"
    assert live.read_bytes() == (tmp_path / "reg" / "a" / "triage.bundle").read_bytes()
    with pytest.raises(ModelError):
        reg.rollback(live, by="t")  # nothing before a
    reg.set_live("c", live, by="t", action="promote")
    assert reg.rollback(live, by="t") == ("c", "a")


def test_a_version_whose_bytes_do_not_match_its_card_is_refused(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    reg.register(_bundle("a"), {})
    path = tmp_path / "a" / "triage.bundle"
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(ModelError, match="does not match"):
        reg.load("a")
    with pytest.raises(ModelError, match="no version"):
        reg.get("zz")
    with pytest.raises(ModelError, match="not a version id"):
        reg.get("../a")


def test_gate_margin_and_p1_recall() -> None:
    live = {"frozen": _scores(0.90, 0.95)}
    assert compare(live, {"frozen": _scores(0.895, 0.95)}, 0.01).passed
    refused = compare(live, {"frozen": _scores(0.885, 0.95)}, 0.01)
    assert not refused.passed and [c.figure for c in refused.failures()] == ["type macro-F1"]
    p1 = compare(live, {"frozen": _scores(0.95, 0.94)}, 0.01)
    assert [c.figure for c in p1.failures()] == ["P1 recall"]
    assert "REFUSED" in p1.table()


def test_drift_distance_and_gauges() -> None:
    ref = {"type": {"bug": 50, "ux": 50}, "priority": {"P1": 1}, "sentiment": {"neutral": 1}}
    recent = {"type": {"bug": 80, "ux": 20}, "priority": {"P1": 5}, "sentiment": {}}
    res = {r.head: r for r in compare_distributions(ref, recent, 0.2)}
    assert res["type"].distance == pytest.approx(0.3) and res["type"].moved
    assert res["priority"].distance == 0 and not res["priority"].moved
    assert res["sentiment"].n_recent == 0 and not res["sentiment"].moved

    from datetime import UTC, datetime, timedelta

    from triage.classifier import Prediction

    g = DriftGauges()
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    old = [Prediction("bug", 0.5, "P1", 0.5, "negative", -1, 0.5)] * 2
    new = [Prediction("ux", 0.9, "P3", 0.9, "neutral", 0, 0.9)] * 2
    g.observe([], [], old, "v", now=now - timedelta(hours=3))
    g.observe([], [], new, "v", now=now)
    fig = g.figures(now)
    assert fig["hour"]["type"][0]["ux"] == 1.0 and fig["hour"]["type"][1] == pytest.approx(0.9)
    assert fig["day"]["type"][0]["bug"] == 0.5 and fig["day"]["type"][1] == pytest.approx(0.7)
