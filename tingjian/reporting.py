"""``tingjian report weekly|monthly`` and ``tingjian demo seed``: the wiring of
reports/ (read the store, compute, render) with progress on stderr."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from config.settings import Settings
from core.errors import ConfigError

FORMATS = ("html", "md", "xlsx")


def add_parsers(sub: Any, common: Any) -> None:
    add_common = common  # the CLI's connection flags (--dsn ...)
    rep = sub.add_parser("report", help="复盘: weekly or monthly report (HTML, Markdown, Excel)")
    rep.add_argument("kind", choices=["weekly", "monthly"], help="weekly or monthly")
    rep.add_argument(
        "--period",
        default=None,
        metavar="2026-W48|2026-11",
        help="default: the last complete week or month",
    )
    rep.add_argument("--department", default=None, metavar="D", help="one department only")
    rep.add_argument("--out", default=".run/reports", metavar="DIR", help="default .run/reports")
    rep.add_argument(
        "--format", default="html,md,xlsx", metavar="LIST", help="comma list of html, md, xlsx"
    )
    add_common(rep)
    demo = sub.add_parser("demo", help="demo data").add_subparsers(
        dest="democmd", required=True, metavar="ACTION"
    )
    ds = demo.add_parser("seed", help="write realistic demo tickets into a database (--dsn)")
    ds.add_argument("--weeks", type=int, default=12, metavar="N", help="weeks back from now")
    ds.add_argument("--per-week", type=int, default=400, metavar="N", help="tickets a week")
    ds.add_argument(
        "--yes-default-store",
        action="store_true",
        help="allow writing invented tickets into the configured store",
    )
    add_common(ds)


class _Progress:
    """A bar on a terminal, plain lines otherwise."""

    def __init__(self, what: str, steps: int) -> None:
        self.what, self.steps, self.done = what, steps, 0
        self.tty = sys.stderr.isatty()

    def step(self, label: str) -> None:
        self.done += 1
        if self.tty:
            bar = "#" * self.done + "." * max(self.steps - self.done, 0)
            end = "\n" if self.done >= self.steps else ""
            print(f"\r{self.what} [{bar}] {label:<30}", end=end, file=sys.stderr, flush=True)
        else:
            print(f"{self.what}: {self.done}/{self.steps} {label}", file=sys.stderr, flush=True)


def report(ns: argparse.Namespace, settings: Settings) -> int:
    from reports.compute import SpikeRule, compute
    from reports.period import parse_period
    from reports.query import load
    from reports.render import write

    formats = {f.strip() for f in ns.format.split(",") if f.strip()}
    if not formats or not formats <= set(FORMATS):
        raise ConfigError(f"--format takes a comma list of {', '.join(FORMATS)}, not {ns.format!r}")
    tz = settings.business.timezone
    cfg = settings.reports
    period = parse_period(ns.kind, ns.period, tz, datetime.now(ZoneInfo(tz)).date())
    bar = _Progress(f"report {period.label}", 6)
    data = load(
        settings.postgres.dsn,
        period,
        tz=tz,
        trend_weeks=cfg.trend_weeks,
        department=ns.department,
        progress=bar.step,
    )
    bar.step("recurring issues, figures")
    rep = compute(
        data,
        period,
        department=ns.department,
        rule=SpikeRule(cfg.spike_rise, cfg.spike_min_count),
        top=cfg.top_clusters,
        examples=cfg.examples_per_cluster,
        sample=cfg.cluster_sample,
    )
    bar.step("writing " + ",".join(sorted(formats)))
    paths = write(rep, Path(ns.out), formats)
    bar.step("done")
    for p in paths:
        print(p.resolve())
    return 0


def demo_seed(ns: argparse.Namespace, settings: Settings) -> int:
    from config.settings import load_settings
    from tingjian.demo import check_target, ensure_database, seed

    default_dsn = load_settings().postgres.dsn  # without the --dsn flag
    dsn = settings.postgres.dsn
    check_target(dsn, default_dsn, ns.yes_default_store)
    if ns.weeks < 1 or ns.per_week < 1:
        raise ConfigError("--weeks and --per-week must be at least 1")
    if ensure_database(dsn):
        print(f"demo: created database {dsn.rpartition('/')[2]}", file=sys.stderr)
    import psycopg

    with psycopg.connect(dsn) as c:
        have = c.execute("SELECT count(*) FROM tickets").fetchone()
    if have and have[0]:  # make run again: keep the demo as it is
        print(f"demo: {have[0]} tickets already in {dsn.rpartition('@')[2]}, nothing written")
        return 0
    bar = _Progress("demo seed", 0)

    def shown(done: int, total: int) -> None:
        bar.steps = max(1, total // 20_000 + (1 if total % 20_000 else 0))
        bar.step(f"{done}/{total} tickets")

    n = seed(dsn, weeks=ns.weeks, per_week=ns.per_week, progress=shown)
    print(f"demo: {n} tickets written into {dsn.rpartition('@')[2]}")
    return 0


def dispatch(ns: argparse.Namespace, settings: Settings) -> int:
    if ns.cmd == "report":
        return report(ns, settings)
    return demo_seed(ns, settings)
