"""The data team's loop on a running stream (issue 11): the stream runs on
version A (the trained default bundle); agents correct labels through the
ticket API; ``corrections export`` + ``model train`` make B; ``promote B``
passes the gate and both triage workers switch to B between batches, with no
restart and no ticket lost or doubled; a C trained on 100 items is refused by
the gate; ``rollback`` returns to A."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import urllib.request
from collections import defaultdict
from pathlib import Path

import psycopg

from core.kafka import Outgoing, make_producer, send_all
from crm.store import TicketDesk
from tests.helpers import ROOT, Proc, count, env_with, feedback, free_port, kafka_for, wait_for

BUNDLE = ROOT / ".run" / "models" / "triage.bundle"


def _cli(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tingjian.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _health(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]
    except OSError:
        return {}


def _small_balanced_set(dest: Path, n: int = 100) -> None:
    """100 corpus items spread over types, priorities and sentiments (so that
    calibration can fit at all): a deliberately weak training set."""
    rows = [
        json.loads(line)
        for f in sorted((ROOT / "data" / "corpus").glob("*.jsonl"))
        for line in f.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    by_type: dict[str, dict[tuple[str, str], list[dict[str, object]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for r in rows:
        by_type[r["type"]][(r["priority"], r["sentiment"])].append(r)
    out: list[dict[str, object]] = []
    per = -(-n // len(by_type))
    for cells in by_type.values():
        mixed = [r for group in itertools.zip_longest(*cells.values()) for r in group if r]
        out += mixed[:per]
    dest.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out[:n]), encoding="utf-8"
    )


def test_retrain_gate_promote_rollback_on_a_running_stream(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    registry, live_path = tmp_path / "registry", tmp_path / "live" / "triage.bundle"
    env = env_with(
        service_env,
        TINGJIAN_TRIAGE__REGISTRY_DIR=str(registry),
        TINGJIAN_TRIAGE__MODEL_PATH=str(live_path),
        TINGJIAN_TRIAGE__BATCH_SIZE="20",
        TINGJIAN_USER="e2e",
    )
    dsn = env["TINGJIAN_POSTGRES__DSN"]
    kcfg, topics = kafka_for(env)

    # A: the already-trained default bundle, registered and made live.
    r = _cli(env, "model", "add", str(BUNDLE))
    assert r.returncode == 0, r.stderr
    a = r.stdout.split()[-1]
    r = _cli(env, "model", "promote", a)
    assert r.returncode == 0, r.stdout + r.stderr
    assert live_path.is_file()

    ports = [free_port(), free_port()]
    workers = [
        Proc(["triage", "--metrics-port", str(p)], env, tmp_path, f"triage{i}").start()
        for i, p in enumerate(ports)
    ]
    api_port = free_port()
    others = [
        Proc(["sink", "crm", "--metrics-port", "0"], env, tmp_path, "sink").start(),
        Proc(["api", "--port", str(api_port)], env, tmp_path, "api").start(),
    ]
    producer = make_producer(kcfg)

    def publish(lo: int, hi: int) -> None:
        out = [
            Outgoing(topics.received, f"c{n}".encode(), feedback(n).model_dump_json().encode())
            for n in range(lo, hi)
        ]
        send_all(producer, out, 30)

    def on_all(version: str) -> bool:
        return all(_health(p).get("model_version") == version for p in ports)

    def tickets() -> int:
        return count(dsn, "SELECT count(*) FROM ticket_feedback")

    try:
        wait_for(lambda: on_all(a), 90, "both workers on A\n" + workers[0].log())
        publish(0, 300)
        wait_for(lambda: tickets() == 300, 120, "300 tickets on A\n" + workers[0].log())
        with psycopg.connect(dsn) as c:
            versions = {row[0] for row in c.execute("SELECT DISTINCT model_version FROM tickets")}
            to_fix = [
                row[0]
                for row in c.execute(
                    "SELECT ticket_no FROM tickets WHERE sentiment <> 'negative'"
                    " ORDER BY ticket_no LIMIT 30"
                )
            ]
        assert versions == {a}

        # Agents' corrections through the ticket API.
        desk = TicketDesk(dsn)
        token = desk.create_token("组长", "lead", None)
        desk.close()
        for no in to_fix:
            req = urllib.request.Request(
                f"http://127.0.0.1:{api_port}/v1/tickets/{no}/labels",
                data=json.dumps({"sentiment": "negative"}).encode(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(req, timeout=15) as resp:
                assert json.loads(resp.read())["sentiment"] == "negative"

        # B: the corpus plus the exported corrections.
        corr = tmp_path / "corrections.jsonl"
        r = _cli(env, "corrections", "export", "-o", str(corr))
        assert r.returncode == 0, r.stderr
        assert len(corr.read_text(encoding="utf-8").splitlines()) == len(to_fix)
        r = _cli(
            env,
            "model",
            "train",
            "--data",
            str(ROOT / "data" / "corpus"),
            "--data",
            str(corr),
            "--folds",
            "2",
        )
        assert r.returncode == 0, r.stderr
        assert "cross-validation fold 2/2" in r.stderr  # progress, plain lines off a tty
        b = r.stdout.split()[1]
        card = json.loads((registry / b / "triage.bundle.json").read_text(encoding="utf-8"))
        assert [d["n"] for d in card["data"]][-1] == len(to_fix)
        assert card["trained_by"] == "e2e" and card["metrics_frozen"]["n"] > 0

        publish(300, 600)  # the stream keeps flowing while B is promoted
        r = _cli(env, "model", "promote", b)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "corrections" in r.stdout and "REFUSED" not in r.stdout
        wait_for(lambda: on_all(b), 60, "both workers on B")
        assert all(_health(p).get("model_version") == b for p in ports)
        assert all(w.alive() for w in workers)  # no restart
        publish(600, 900)
        wait_for(lambda: tickets() == 900, 120, "900 tickets")
        with psycopg.connect(dsn) as c:
            rows = c.execute("SELECT source_id, model_version FROM tickets").fetchall()
        assert len(rows) == 900 and len({s for s, _ in rows}) == 900  # none lost, none doubled
        late = {v for s, v in rows if int(s.split("-")[1]) >= 600}
        assert late == {b}

        # C: 100 items, refused by the gate, with its table of figures.
        small = tmp_path / "c100.jsonl"
        _small_balanced_set(small)
        r = _cli(env, "model", "train", "--data", str(small), "--folds", "2")
        assert r.returncode == 0, r.stderr
        c_id = r.stdout.split()[1]
        r = _cli(env, "model", "promote", c_id)
        assert r.returncode != 0
        assert "REFUSED" in r.stdout and "P1 recall" in r.stdout
        assert on_all(b)

        r = _cli(env, "model", "list")
        lines = r.stdout.splitlines()
        assert [ln.split()[0] for ln in lines] == [a, b, c_id]
        assert "* live" in lines[1]

        r = _cli(env, "model", "rollback")
        assert r.returncode == 0, r.stderr
        wait_for(lambda: on_all(a), 60, "both workers back on A")
        assert all(w.alive() for w in workers)
    finally:
        producer.close()
        for p in [*workers, *others]:
            p.stop_quietly()
