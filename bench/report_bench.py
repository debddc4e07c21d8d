"""Time the 复盘 report's SQL (reports.query.load) on N demo tickets.

    python -m bench.report_bench [--tickets 1000000] [--dsn DSN]
The database (default tingjian_bench_report) is created, seeded once and kept.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import psycopg

from reports.period import parse_period
from reports.query import load
from tingjian.demo import ensure_database, seed

DSN = "postgresql://tingjian:tingjian@127.0.0.1:15432/tingjian_bench_report"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--dsn", default=DSN)
    ns = ap.parse_args()
    ensure_database(ns.dsn)
    with psycopg.connect(ns.dsn) as c:
        have = c.execute("SELECT count(*) FROM tickets").fetchone()[0]  # type: ignore[index]
    if have < ns.tickets:
        weeks = 12
        t0 = time.perf_counter()
        seed(
            ns.dsn,
            weeks=weeks,
            per_week=(ns.tickets - have) // weeks,
            progress=lambda d, t: print(f"seed {d}/{t}", flush=True),
        )
        print(f"seeded in {time.perf_counter() - t0:.1f} s")
    today = datetime.now(UTC).date()
    for kind in ("weekly", "monthly"):
        p = parse_period(kind, None, "Asia/Shanghai", today)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        data = load(ns.dsn, p, tz="Asia/Shanghai", trend_weeks=8)
        print(
            f"{kind} {p.label}: {len(data.current)} tickets of the period, "
            f"SQL {time.perf_counter() - t0:.2f} s"
        )


if __name__ == "__main__":
    main()
