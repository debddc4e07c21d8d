"""The data team's commands: ``model train``, ``classify``, ``eval``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from config import Settings
from core.errors import TingjianError
from triage.heads import load_heads


def default_data_dir() -> Path:
    import os

    if os.environ.get("TINGJIAN_DATA_DIR"):
        return Path(os.environ["TINGJIAN_DATA_DIR"])
    # The project is cloned beside ../shared; fall back to the working directory's.
    for base in (Path(__file__).resolve().parents[2], Path.cwd().parent, Path.cwd()):
        if (base / "shared" / "data" / "feedback_labeled.jsonl").is_file():
            return base / "shared" / "data"
    raise TingjianError("labeled data not found: pass --data / --data-dir")


def dispatch(ns: argparse.Namespace, settings: Settings) -> int:
    if ns.cmd == "model":
        return train(settings, ns.data, ns.out)
    if ns.cmd == "classify":
        return classify(
            settings, Path(ns.input), Path(ns.output), Path(ns.errors) if ns.errors else None
        )
    return evaluate(ns, settings)


def train(settings: Settings, data: str | None, out: str | None) -> int:
    from triage.bundle import save_bundle
    from triage.training import crossval, file_hash, fit_bundle, load_labeled

    path = Path(data) if data else default_data_dir() / "feedback_labeled.jsonl"
    rows = load_labeled(path)
    heads = load_heads(settings.triage.heads)
    report = crossval(rows, folds=5, **_eval_context(settings), heads=heads)
    metrics = {
        k: {"macro_f1": report[k]["macro_f1"], "per_class": report[k]["per_class"]}
        for k in ("type", "priority", "sentiment")
    }
    bundle = fit_bundle(
        rows,
        data_hash=file_hash(path),
        extra_meta={"metrics_cv5": metrics, "data_path": str(path)},
        heads=heads,
    )
    dest = Path(out or settings.triage.model_path)
    save_bundle(bundle, dest)
    print(f"model {bundle.version} -> {dest}")
    print(
        f"cv5 macro-F1: type {metrics['type']['macro_f1']:.3f}, priority {metrics['priority']['macro_f1']:.3f}, sentiment {metrics['sentiment']['macro_f1']:.3f}"
    )
    return 0


def classify(settings: Settings, src: Path, dst: Path, errors: Path | None) -> int:
    from tingjian.wiring import build_engine
    from triage.batch import classify_file

    if not src.is_file():
        raise TingjianError(f"input not found: {src}")
    engine = build_engine(settings, durable_dedup=False)  # dedup in file order, in memory
    stats = classify_file(engine, src, dst, errors)
    print(
        f"classified {stats['ok']} items with {engine.classifier.version}; {stats['invalid']} invalid lines",
        file=sys.stderr,
    )
    if not stats["ok"]:
        raise TingjianError(f"no valid line in {src}: see {errors or str(dst) + '.errors.jsonl'}")
    return 0


def _eval_context(settings: Settings) -> dict[str, Any]:
    """What evaluation needs of the settings, as values: the same business
    rules, time zone and customer-key secret as the stream."""
    from zoneinfo import ZoneInfo

    from config import load_business_rules

    return {
        "rules": load_business_rules(settings.business),
        "tz": ZoneInfo(settings.business.timezone),
        "hash_key": settings.privacy.hash_key,
    }


def evaluate(ns: argparse.Namespace, settings: Settings) -> int:
    from triage.training import (
        cross_domain_sentiment,
        crossval,
        format_report,
        load_labeled,
        snownlp_baseline,
    )

    data_dir = Path(ns.data_dir) if ns.data_dir else default_data_dir()
    rows = load_labeled(data_dir / "feedback_labeled.jsonl")
    ctx = _eval_context(settings)
    rep = crossval(
        rows, folds=ns.folds, features=ns.features, heads=load_heads(settings.triage.heads), **ctx
    )
    print(
        f"# Stratified {ns.folds}-fold cross-validation on {len(rows)} labeled items ({ns.features} features)\n"
    )
    for k in ("type", "priority", "sentiment"):
        print(format_report(rep[k]) + "\n")
    p1 = rep["priority"]["per_class"]["P1"]["recall"]
    cal = rep["calibration"]
    print(f"P1 recall: {p1:.3f}")
    print(
        f"confidence calibration (ECE, lower is better): type {cal['type_ece']:.3f}, sentiment {cal['sentiment_ece']:.3f}\n"
    )
    base = snownlp_baseline(rows)
    rep["snownlp"] = base
    print(format_report(base) + "\n")
    from triage import dedup_eval

    dd = dedup_eval.evaluate(dedup_eval.engine_factory(**ctx), [r.text for r in rows])
    rep["duplicates"] = dd
    print(
        f"# Duplicates (synthetic re-sends of labeled items, {dd['items']} items, {dd['true_pairs']} true pairs)\n"
        f"  precision {dd['precision']:.3f}  recall {dd['recall']:.3f}  F1 {dd['f1']:.3f}"
        f"  cross-customer merges {dd['cross_customer_merges']}\n"
    )
    if not ns.skip_cross_domain:
        cd = cross_domain_sentiment(data_dir)
        rep["cross_domain_sentiment"] = cd
        print("# Binary sentiment on a review domain absent from training")
        for r in cd:
            print(
                f"  held out {r['held_out']:<28} accuracy {r['accuracy']:.3f}  (train {r['train_examples']}, test {r['test_examples']})"
            )
    if ns.json_out:
        Path(ns.json_out).write_text(
            json.dumps(rep, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    return 0
