"""``tingjian classify`` in a real process: same triage as the stream, no Kafka."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_classify_file_reports_bad_lines_and_dedups_in_file_order(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = [
        {
            "id": "a",
            "channel": "web_form",
            "text": "APP登录后一直闪退，重装也不行",
            "customer": {"phone": "13812345678"},
        },
        {
            "id": "b",
            "channel": "email",
            "subject": "还是闪退",
            "text": "APP登录以后还是一直闪退，重装了也不行啊",
            "customer": {"phone": "138-1234-5678"},
        },
        {
            "id": "c",
            "channel": "web_form",
            "text": "APP登录后一直闪退，重装也不行",
            "customer": {"phone": "13900000000"},
        },
        {"id": "d", "channel": "web_form", "text": "加微信领红包，日赚三百，兼职刷单"},
        {"id": "e", "channel": "fax", "text": "unknown channel"},
        {
            "id": "f",
            "channel": "survey",
            "text": "客服态度很好，谢谢",
            "type": "praise",
            "received_at": "2026-11-20T10:00:00+08:00",
        },
    ]
    body = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\nnot json\n"
    src.write_text(body, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tingjian.cli",
            "classify",
            str(src),
            "-o",
            str(out),
            "--model",
            str(tmp_path / "none"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert set(rows) == {"a", "b", "c", "d", "f"}
    assert rows["b"]["duplicate_of"] == "a"
    assert rows["c"]["duplicate_of"] is None  # another customer
    assert rows["d"]["type"] == "spam" and rows["d"]["quarantined"] == "spam"
    for key in (
        "type",
        "type_confidence",
        "priority",
        "priority_confidence",
        "sentiment",
        "sentiment_score",
        "topics",
        "summary",
        "keywords",
        "incident",
        "needs_review",
        "department",
        "sla",
        "model_version",
    ):
        assert key in rows["a"], key
    assert rows["f"]["sla"]["acknowledge_by"].startswith("2026-11-20T12:00:00")
    errors = [
        json.loads(x)
        for x in (tmp_path / "out.jsonl.errors.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [e["line"] for e in errors] == [5, 7]
    assert "channel" in errors[0]["error"]


def _classify(tmp_path: Path, src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *(sys.executable, "-m", "tingjian.cli", "classify", str(src)),
            *("-o", str(tmp_path / "o"), "--model", str(tmp_path / "none")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_classify_reads_what_feed_posts(tmp_path: Path) -> None:
    src = ROOT / "examples" / "feedback.jsonl"
    proc = _classify(tmp_path, src)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in (tmp_path / "o").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len([x for x in src.read_text(encoding="utf-8").splitlines() if x.strip()])
    assert rows[0]["id"] == "line-1"
    assert all(r["priority"] or r.get("quarantined") for r in rows)


def test_classify_fails_when_no_line_is_valid(tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text('{"txt": "typo in the key"}\nnot json\n', encoding="utf-8")
    proc = _classify(tmp_path, src)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("tingjian: ")
    assert "no valid line" in proc.stderr
