"""``tingjian model train|add|list|show|promote|rollback|shadow-report|drift``:
the data team's loop over the registry (triage/registry.py)."""

from __future__ import annotations

import argparse
import getpass
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from config import Settings
from core.errors import ModelError, TingjianError
from tingjian.data_tools import (
    _eval_context,
    _figures,
    _load,
    _review_thresholds,
    default_corpus,
    frozen_split,
)
from tingjian.progress import Progress
from triage.heads import load_heads
from triage.registry import Registry


def _who() -> str:
    return os.environ.get("TINGJIAN_USER") or getpass.getuser()


def _registry(settings: Settings) -> Registry:
    return Registry(Path(settings.triage.registry_dir))


def dispatch(ns: argparse.Namespace, settings: Settings) -> int:
    cmd = ns.modelcmd
    if cmd == "train":
        return train(settings, ns.data, ns.out, ns.folds)
    if cmd == "add":
        return add(settings, Path(ns.path))
    if cmd == "list":
        return list_versions(settings)
    if cmd == "show":
        return show(settings, ns.version)
    if cmd == "promote":
        return promote(settings, ns.version, ns.force, ns.reason)
    if cmd == "rollback":
        return rollback(settings)
    if cmd == "shadow-report":
        return shadow_report(settings)
    if cmd == "drift":
        return drift(settings, ns.days)
    raise AssertionError(f"unhandled model command {cmd}")


# ------------------------------------------------------------------ train


def train(settings: Settings, data: list[str] | None, out: str | None, folds: int = 5) -> int:
    from triage.bundle import save_bundle
    from triage.training import (
        class_counts,
        crossval,
        file_hash,
        fit_bundle,
        load_labeled,
        predict_rows,
        rows_hash,
        score,
    )

    t0 = time.monotonic()
    paths = [Path(d) for d in data] if data else [default_corpus()]
    for p in paths:
        if not p.exists():
            raise TingjianError(f"labeled data not found: {p}")
    if folds < 2:
        raise TingjianError("--folds must be at least 2")
    bar = Progress("model train", folds + 4)
    per_source = [(p, _load(load_labeled, p)) for p in paths]
    rows = [r for _, src in per_source for r in src]
    heads = load_heads(settings.triage.heads)
    ctx = _eval_context(settings)
    bar.step(f"{len(rows)} labeled items from {len(paths)} source(s)")
    report = crossval(
        rows,
        folds=folds,
        **ctx,
        heads=heads,
        progress=lambda k, n: bar.step(f"cross-validation fold {k}/{n}"),
    )
    metrics = {k: _figures(report, k) for k in ("type", "priority", "sentiment")}
    bundle = fit_bundle(
        rows,
        data_hash=rows_hash(paths),
        extra_meta={
            "metrics_cv5": metrics,
            "cv_folds": folds,
            "p1_cv5": report["p1"],
            "review_thresholds": _review_thresholds(report),
            "review_coverage_cv5": {
                h: report[f"{h}_review"]["coverage"] for h in ("sentiment", "type")
            },
            "data": [
                {"path": str(p), "sha256": rows_hash([p]), "n": len(src)} for p, src in per_source
            ],
            "counts": class_counts(rows),
        },
        heads=heads,
    )
    bar.step("fitted on every item")
    # The frozen split is measured for the card and the gate; it never chooses anything.
    frozen = _frozen()
    if frozen:
        test = load_labeled(frozen)
        figures = score(test, predict_rows(bundle, test, **ctx))
        bundle.meta["metrics_frozen"] = {
            "sha256": file_hash(frozen),
            "n": len(test),
            **{k: _figures(figures, k) for k in ("type", "priority", "sentiment")},
            "p1": figures["p1"],
        }
    bar.step("frozen split measured" if frozen else "no frozen split found")
    version = _registry(settings).register(
        bundle,
        {"trained_by": _who(), "training_seconds": round(time.monotonic() - t0, 1)},
    )
    if out:
        save_bundle(bundle, Path(out))
    bar.step(f"registered {version.id}")
    print(f"registered {version.id}" + (f" (also written to {out})" if out else ""))
    line = ", ".join(f"{k} {metrics[k]['macro_f1']:.3f}" for k in metrics)
    print(f"group cv{folds} macro-F1: {line}; P1 recall {report['p1']['recall']:.3f}")
    if "metrics_frozen" in bundle.meta:
        fz = bundle.meta["metrics_frozen"]
        line = ", ".join(f"{k} {fz[k]['macro_f1']:.3f}" for k in ("type", "priority", "sentiment"))
        print(
            f"frozen split ({fz['n']} items) macro-F1: {line}; P1 recall {fz['p1']['recall']:.3f}"
        )
    return 0


def _frozen() -> Path | None:
    try:
        return frozen_split(default_corpus())
    except TingjianError:
        return None


def add(settings: Settings, path: Path) -> int:
    """Register a bundle trained before the registry (its manifest checked)."""
    from triage.bundle import load_bundle

    bundle = load_bundle(path)
    v = _registry(settings).register(
        bundle, {"trained_by": bundle.meta.get("trained_by", "unknown"), "added_from": str(path)}
    )
    print(f"registered {v.id}")
    return 0


# ------------------------------------------------------------------ browse


def list_versions(settings: Settings) -> int:
    reg = _registry(settings)
    live = reg.live()
    versions = reg.versions()
    if not versions:
        print(f"no registered version in {reg.root}")
        return 0
    for v in versions:
        c = v.card
        fz = c.get("metrics_frozen") or {}
        figs = (
            " ".join(f"{h}={fz[h]['macro_f1']:.3f}" for h in ("type", "priority", "sentiment"))
            if fz
            else "frozen=n/a"
        )
        mark = "* live" if v.id == live else "      "
        print(
            f"{v.id}  {mark}  {str(c.get('trained_at', ''))[:19]}  n={c.get('n_examples', '?')}"
            f"  {figs}  by {c.get('trained_by', '?')}"
        )
    return 0


def show(settings: Settings, version: str) -> int:
    import json

    v = _registry(settings).get(version)
    card = {k: val for k, val in v.card.items() if k != "keyword_idf"}
    card["live"] = v.id == _registry(settings).live()
    print(json.dumps(card, ensure_ascii=False, indent=2))
    return 0


# ------------------------------------------------------------------ the gate


def _test_sets(settings: Settings) -> dict[str, Sequence[Any]]:
    from triage.training import example_of, load_labeled

    sets: dict[str, Sequence[Any]] = {}
    frozen = _frozen()
    if frozen:
        sets["frozen split"] = load_labeled(frozen)
    try:
        from crm.corrections import export_corrections

        since = datetime.now(UTC) - timedelta(days=settings.models.corrections_days)
        rows, _ = export_corrections(settings.postgres.dsn, since)
    except TingjianError as exc:
        print(f"(no corrections from the store: {exc})")
        rows = []
    if rows:
        sets[f"corrections ({settings.models.corrections_days}d)"] = [example_of(r) for r in rows]
    if not sets:
        raise TingjianError("no test set for the gate: neither a frozen split nor corrections")
    return sets


def _live_bundle(settings: Settings, reg: Registry) -> Any:
    from triage.bundle import load_bundle

    live = reg.live()
    if live:
        return reg.load(live)
    path = Path(settings.triage.model_path)
    return load_bundle(path) if path.is_file() else None


def promote(settings: Settings, version: str, force: bool, reason: str | None) -> int:
    from triage.gate import compare
    from triage.training import predict_rows, score

    if force and not (reason and reason.strip()):
        raise TingjianError("--force needs --reason TEXT (it is recorded in the card)")
    reg = _registry(settings)
    candidate = reg.load(version)
    live = _live_bundle(settings, reg)
    model_path = Path(settings.triage.model_path)
    if live is not None and live.version == version:
        print(f"{version} is already live")
        return 0
    entry: dict[str, Any] = {"at": datetime.now(UTC).isoformat(), "by": _who()}
    if live is not None:
        ctx = _eval_context(settings)
        sets = _test_sets(settings)
        figs = {
            which: {
                name: score(rows, predict_rows(model, rows, **ctx)) for name, rows in sets.items()
            }
            for which, model in (("live", live), ("candidate", candidate))
        }
        verdict = compare(figs["live"], figs["candidate"], settings.models.gate_margin)
        print(f"gate: {version} (candidate) against {live.version} (live)")
        print(verdict.table())
        entry |= {
            "against": live.version,
            "passed": verdict.passed,
            "checks": [
                {
                    "test_set": c.test_set,
                    "figure": c.figure,
                    "live": c.live,
                    "candidate": c.candidate,
                }
                for c in verdict.checks
            ],
        }
        if not verdict.passed and not force:
            entry["outcome"] = "refused"
            reg.annotate(version, "promotions", entry)
            print(
                f"refused: {len(verdict.failures())} figure(s) dropped beyond the margin; "
                "`--force --reason TEXT` overrides (recorded in the card)"
            )
            return 3
    if force:
        entry |= {"forced": True, "reason": reason}
    entry["outcome"] = "promoted"
    if live is not None and reg.live() is None:
        # The live bundle predates the registry: keep it as a version so that
        # rollback can return to it.
        if live.version not in {v.id for v in reg.versions()}:
            reg.register(live, {"trained_by": live.meta.get("trained_by", "unknown")})
        reg.set_live(live.version, model_path, by=_who(), action="promote")
    reg.annotate(version, "promotions", entry)
    reg.set_live(version, model_path, by=_who(), action="promote")
    print(f"promoted {version}" + (" (forced)" if force else "") + f" -> {model_path}")
    return 0


def rollback(settings: Settings) -> int:
    reg = _registry(settings)
    try:
        left, back = reg.rollback(Path(settings.triage.model_path), by=_who())
    except ModelError as exc:
        raise TingjianError(str(exc)) from exc
    print(f"rolled back {left} -> {back}")
    return 0


# ------------------------------------------------------------------ shadow, drift


def shadow_report(settings: Settings) -> int:
    from triage.shadow_store import shadow_report_rows

    rep = shadow_report_rows(settings.postgres.dsn, settings.triage.shadow_version)
    if rep["shadow_version"] is None:
        print("no shadow comparison stored (set triage.shadow_version and run triage)")
        return 0
    compared, disagreed, judged = rep["compared"], rep["disagreed"], rep["judged"]
    print(f"shadow {rep['shadow_version']}")
    print(f"{'head':<10}{'live class':<12}{'items':>7}{'disagree':>10}{'agreement':>11}")
    for head in ("type", "priority", "sentiment"):
        classes = sorted(lab for h, lab in compared if h == head)
        n_all = sum(compared[(head, c)] for c in classes)
        d_all = sum(disagreed.get((head, c), 0) for c in classes)
        for c in classes:
            n, d = compared[(head, c)], disagreed.get((head, c), 0)
            print(f"{head:<10}{c:<12}{n:>7}{d:>10}{1 - d / n:>11.1%}")
        if n_all:
            print(f"{head:<10}{'(all)':<12}{n_all:>7}{d_all:>10}{1 - d_all / n_all:>11.1%}")
    print("where an agent corrected a disagreement, whose label the agent kept:")
    for head in ("type", "priority", "sentiment"):
        w = {who: judged.get((head, who), 0) for who in ("live", "shadow", "neither")}
        print(f"  {head:<10} live {w['live']}  shadow {w['shadow']}  neither {w['neither']}")
    return 0


def drift(settings: Settings, days: int) -> int:
    from triage.drift import compare_distributions
    from triage.drift_store import recent_label_counts

    reg = _registry(settings)
    live = reg.live()
    if live:
        card = reg.get(live).card
    else:
        from triage.bundle import load_bundle

        card = load_bundle(Path(settings.triage.model_path)).meta
    counts = card.get("counts") or {}
    recent = recent_label_counts(settings.postgres.dsn, days)
    threshold = settings.models.drift_threshold
    results = compare_distributions(counts, recent, threshold)
    print(
        f"labels of the last {days} days against the training data of "
        f"{card.get('version', live)} (threshold: total variation distance > {threshold:g})"
    )
    moved = False
    for r in results:
        print(
            f"{r.head:<10} n={r.n_recent:<7} TVD {r.distance:.3f}  "
            + ("MOVED" if r.moved else "ok" if r.n_recent else "no tickets")
        )
        for lab in r.reference:
            print(f"    {lab:<11} train {r.reference[lab]:6.1%}  recent {r.recent[lab]:6.1%}")
        moved |= r.moved
    if moved:
        print("drift: the label distribution moved beyond the threshold: retrain or investigate")
    return 4 if moved else 0
