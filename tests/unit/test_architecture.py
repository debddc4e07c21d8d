"""The house's import rules, read from the code (ast), not from a picture:

- ``models/`` imports nothing of ours;
- the floor (``core/``) imports only ``models``;
- ``config/`` imports only the floor (and ``models``);
- the stages (``ingest/``, ``triage/``, ``sinks/``, ``crm/``) never import each other;
- nothing imports the top (``tingjian/``) but the top itself (tests and
  benchmarks sit outside the house and may drive it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"models", "core", "config", "ingest", "triage", "sinks", "crm", "reports", "tingjian"}
ALLOWED = {
    "models": {"models"},
    "core": {"core", "models"},
    "config": {"config", "core", "models"},
    "ingest": {"ingest", "core", "config", "models"},
    "triage": {"triage", "core", "config", "models"},
    "sinks": {"sinks", "core", "config", "models"},
    "crm": {"crm", "core", "config", "models"},
    "reports": {"reports", "core", "config", "models"},
    "tingjian": OURS,
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return out


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_follow_the_floors(package: str) -> None:
    broken = []
    for f in _files(package):
        for line, mod in _imports(f):
            top = mod.split(".")[0]
            if top in OURS and top not in ALLOWED[package]:
                broken.append(f"{f.relative_to(ROOT)}:{line} imports {mod}")
    assert not broken, "\n".join(broken)


def test_every_package_is_checked() -> None:
    # A new top-level package must be placed in the house before it can land.
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages == set(ALLOWED)


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("from triage.engine import TriageEngine\nimport tingjian.cli\n")
    assert [m for _, m in _imports(bad)] == ["triage.engine", "tingjian.cli"]


def test_no_module_connects_at_import_time() -> None:
    """Module bodies only define: no call at top level reaches Kafka or PostgreSQL."""
    suspects = ("connect", "KafkaProducer", "KafkaConsumer", "KafkaAdminClient", "make_producer")
    found = []
    for package in ALLOWED:
        for f in _files(package):
            tree = ast.parse(f.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.Assign | ast.Expr | ast.AnnAssign):
                    for call in ast.walk(node):
                        if isinstance(call, ast.Call):
                            name = ast.unparse(call.func)
                            if any(s in name for s in suspects):
                                found.append(f"{f.relative_to(ROOT)}:{node.lineno} {name}")
    assert not found, found
