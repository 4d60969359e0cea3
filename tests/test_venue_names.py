"""No venue name outside its own package: the engine, risk, ledger, console, audit and
runtime work for any registered venue (issue: venues as plug-ins).

Checked on the code's string literals (docstrings and comments may cite an exchange's
documents): none outside ``core/venues/`` and the config (``core/domain/config.py`` and its
``plumbing_settings.py``: the per-venue sections) may name a registered venue."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from core.venues import registry
from tests.conftest import ROOT

ALLOWED = ("core/venues/", "core/domain/config.py", "core/domain/plumbing_settings.py")


def _docstring_nodes(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
        if isinstance(node, ast.Module | ast.ClassDef):
            # attribute docstrings: a bare string right after an assignment
            for prev, nxt in zip(node.body, node.body[1:], strict=False):
                if (
                    isinstance(prev, ast.Assign | ast.AnnAssign)
                    and isinstance(nxt, ast.Expr)
                    and isinstance(nxt.value, ast.Constant)
                ):
                    out.add(id(nxt.value))
    return out


def venue_literals(path: Path, pattern: re.Pattern[str]) -> list[str]:
    """``file:line: literal`` for every non-docstring string constant naming a venue."""
    tree = ast.parse(path.read_text(), str(path))
    docs = _docstring_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            if pattern.search(node.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}")
    return found


def test_no_venue_name_literal_outside_the_venue_packages_and_the_config() -> None:
    pattern = re.compile(r"(?i)\b(" + "|".join(registry.names()) + r")\b")
    found = []
    for path in sorted([*(ROOT / "core").rglob("*.py"), *(ROOT / "tui").rglob("*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(ALLOWED):
            continue
        found += venue_literals(path, pattern)
    assert found == []


def test_the_check_finds_a_venue_name() -> None:
    pattern = re.compile(r"(?i)\b(" + "|".join(registry.names()) + r")\b")
    sample = ROOT / "core" / "venues" / "bitmex" / "plugin.py"
    assert venue_literals(sample, pattern)  # name="bitmex" is a literal there
