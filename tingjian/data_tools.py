"""The data team's commands: ``model train``, ``classify``, ``eval``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from config import Settings
from core.errors import TingjianError
from triage.heads import load_heads

ROOT = Path(__file__).resolve().parents[1]


def default_corpus() -> Path:
    """The project's labeled corpus (data/corpus, data/CARD.md): TINGJIAN_CORPUS_DIR,
    else ./data/corpus, else the checkout's."""
    env = os.environ.get("TINGJIAN_CORPUS_DIR")
    candidates = [Path(env)] if env else [Path.cwd() / "data" / "corpus", ROOT / "data" / "corpus"]
    for c in candidates:
        if c.is_dir() and any(c.glob("*.jsonl")):
            return c
    raise TingjianError(
        "labeled corpus not found: pass --data FILE_OR_DIR, set TINGJIAN_CORPUS_DIR, "
        "or run from the checkout (data/corpus)"
    )


def frozen_split(corpus: Path) -> Path | None:
    """The frozen test split beside the corpus (data/frozen/test.jsonl)."""
    path = corpus.parent / "frozen" / "test.jsonl"
    return path if path.is_file() else None


def shared_data_dir() -> Path | None:
    """Extra material (../shared/data, or TINGJIAN_DATA_DIR): never required."""
    env = os.environ.get("TINGJIAN_DATA_DIR")
    if env:
        return Path(env) if Path(env).is_dir() else None
    for base in (ROOT.parent, Path.cwd().parent, Path.cwd()):
        if (base / "shared" / "data" / "feedback_labeled.jsonl").is_file():
            return base / "shared" / "data"
    return None


def dispatch(ns: argparse.Namespace, settings: Settings) -> int:
    if ns.cmd == "model":
        from tingjian import model_tools

        return model_tools.dispatch(ns, settings)
    if ns.cmd == "classify":
        return classify(
            settings, Path(ns.input), Path(ns.output), Path(ns.errors) if ns.errors else None
        )
    return evaluate(ns, settings)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _fold_progress(what: str) -> Any:
    def report(k: int, folds: int) -> None:
        bar = "#" * k + "." * (folds - k)
        _say(f"{what}: fold {k}/{folds} [{bar}]")

    return report


def _review_thresholds(report: dict[str, Any]) -> dict[str, float]:
    """Per head, the confidence that reached its precision target on the
    cross-validated predictions (sentiment 95 %, type 90 %)."""
    return {
        head: float(report[f"{head}_review"]["threshold"])
        for head in ("sentiment", "type")
        if report[f"{head}_review"]["threshold"] is not None
    }


def _load(loader: Any, path: Path) -> Any:
    try:
        return loader(path)
    except (OSError, ValueError) as exc:
        raise TingjianError(str(exc)) from exc


def _figures(report: dict[str, Any], head: str) -> dict[str, Any]:
    return {"macro_f1": report[head]["macro_f1"], "per_class": report[head]["per_class"]}


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
        crossval,
        file_hash,
        fit_bundle,
        format_report,
        load_labeled,
        predict_rows,
        review_sentiment,
        score,
        snownlp_baseline,
    )

    corpus = default_corpus()
    rows = _load(load_labeled, corpus)
    heads = load_heads(settings.triage.heads)
    ctx = _eval_context(settings)
    rep: dict[str, Any] = {}
    cv = crossval(
        rows,
        folds=ns.folds,
        features=ns.features,
        heads=heads,
        progress=_fold_progress("cv"),
        **ctx,
    )
    rep["cv"] = cv
    print(
        f"# Group-aware stratified {ns.folds}-fold cross-validation on the corpus: "
        f"{len(rows)} items, {cv['groups']} scenario groups ({ns.features} features)\n"
    )
    _print_scores(cv, format_report)
    _say("fitting on the whole corpus for the held-out sets")
    bundle = fit_bundle(
        rows,
        features=ns.features,
        heads=heads,
        extra_meta={"review_thresholds": _review_thresholds(cv)},
    )
    frozen = frozen_split(corpus)
    if frozen:
        test = _load(load_labeled, frozen)
        fz = score(test, predict_rows(bundle, test, **ctx))
        fz["sha256"] = file_hash(frozen)
        rep["frozen"] = fz
        print(
            f"# Frozen test split {frozen.name}: {len(test)} items, never used for training or "
            f"tuning (sha256 {fz['sha256'][:16]}…)\n"
        )
        _print_scores(fz, format_report)
        base = snownlp_baseline(test)
        rep["frozen"]["snownlp"] = base
        print(format_report(base) + "\n")
    shared = Path(ns.data_dir) if ns.data_dir else shared_data_dir()
    if shared and (shared / "feedback_labeled.jsonl").is_file():
        other = _load(load_labeled, shared / "feedback_labeled.jsonl")
        sh = score(other, predict_rows(bundle, other, **ctx))
        rep["shared"] = sh
        print(
            f"# Written by others, never trained on: {shared}/feedback_labeled.jsonl, {len(other)} items\n"
        )
        _print_scores(sh, format_report)
    from triage import dedup_eval

    dd = dedup_eval.evaluate(dedup_eval.engine_factory(**ctx), [r.text for r in rows[:1500]])
    rep["duplicates"] = dd
    print(
        f"# Duplicates (synthetic re-sends of corpus items, {dd['items']} items, {dd['true_pairs']} true pairs)\n"
        f"  precision {dd['precision']:.3f}  recall {dd['recall']:.3f}  F1 {dd['f1']:.3f}"
        f"  cross-customer merges {dd['cross_customer_merges']}\n"
    )
    if shared and not ns.skip_cross_domain:
        reviews = review_sentiment(bundle, shared)
        rep["real_reviews"] = reviews
        print("# Binary sentiment of the product's model on real public reviews (never trained on)")
        for r in reviews:
            print(
                f"  {r['corpus']:<34} accuracy {r['accuracy']:.3f}  ({r['n']} reviews; "
                f"{r['needs_review_share']:.0%} would be needs_review)"
            )
    if ns.json_out:
        Path(ns.json_out).write_text(
            json.dumps(rep, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    return 0


def _print_scores(rep: dict[str, Any], format_report: Any) -> None:
    for k in ("type", "priority", "sentiment"):
        print(format_report(rep[k]) + "\n")
    p1, cal = rep["p1"], rep["calibration"]
    print(
        f"P1 recall {p1['recall']:.3f}, precision {p1['precision']:.3f} ({p1['support']} P1 items)"
    )
    print(
        f"confidence calibration (ECE, lower is better): type {cal['type_ece']:.3f}, "
        f"sentiment {cal['sentiment_ece']:.3f}"
    )
    if rep.get("needs_review_share") is not None:
        print(
            f"tickets marked needs_review (type or sentiment below its threshold): {rep['needs_review_share']:.1%}"
        )
    sr = rep["sentiment_review"]
    if sr["threshold"] is None:
        print("sentiment: no confidence reaches 95 % precision\n")
    else:
        print(
            f"sentiment at 95 % precision: confidence >= {sr['threshold']:.3f} covers "
            f"{sr['coverage']:.1%} of items (the rest need review)\n"
        )
