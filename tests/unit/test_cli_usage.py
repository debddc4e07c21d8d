"""Every command's ``--help`` works, and every bad invocation is one line on
stderr that names the command, with a non-zero exit."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tingjian import __version__
from tingjian.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [path]
    return [
        leaf for name, child in subs[0].choices.items() for leaf in _leaves(child, (*path, name))
    ]


LEAVES = _leaves(build_parser())


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's way out
        return int(exc.code or 0)


def test_the_walk_sees_every_command() -> None:
    names = {" ".join(x) for x in LEAVES}
    assert {"ingest web", "ingest email", "sink crm", "model train", "feed", "tickets"} <= names
    assert len(LEAVES) >= 15


@pytest.mark.parametrize("cmd", LEAVES, ids=" ".join)
def test_help_and_a_bad_flag(cmd: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([*cmd, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: tingjian {' '.join(cmd)}")
    # no flag is shown by its internal dest (KAFKA__BOOTSTRAP_SERVERS)
    assert "__" not in out
    rc = _exit_code([*cmd, "--no-such-flag"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1, err
    assert err.startswith(f"tingjian {' '.join(cmd)}: error:"), err


def test_missing_required_argument_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["import", "x.csv"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tingjian import: error:"), err
    assert "--mapping" in err


def test_every_option_has_help() -> None:
    def walk(p: argparse.ArgumentParser) -> list[str]:
        missing = [
            f"{p.prog} {a.option_strings[0]}"
            for a in p._actions
            if a.option_strings and not a.help and a.dest != "help"
        ]
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for child in a.choices.values():
                    missing += walk(child)
        return missing

    assert walk(build_parser()) == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"tingjian {__version__}"


def test_import_help_lists_the_mappings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["import", "--help"])
    out = capsys.readouterr().out
    assert "generic" in out and "survey" in out and "app_store" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["feed", "/no/such/file.jsonl"],
        ["inspect", "email", "/no/such/mail.eml"],
        ["classify", "/no/such/in.jsonl", "-o", "/tmp/never.jsonl"],
    ],
    ids=lambda a: a[0],
)
def test_a_missing_file_is_one_line_not_a_traceback(argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tingjian.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "/no/such/" in proc.stderr


def test_train_without_a_corpus_says_how_to_give_one(tmp_path: Path) -> None:
    env = {**os.environ, "TINGJIAN_CORPUS_DIR": str(tmp_path / "empty")}
    proc = subprocess.run(
        [sys.executable, "-m", "tingjian.cli", "model", "train", "--out", str(tmp_path / "b")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "--data" in proc.stderr and "TINGJIAN_CORPUS_DIR" in proc.stderr
