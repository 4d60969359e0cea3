"""core/ never imports textual or rich: each module is imported alone in a fresh interpreter."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import core
from tests.conftest import ROOT

MODULES = sorted(m.name for m in pkgutil.walk_packages(core.__path__, prefix="core."))


def test_there_are_core_modules_to_check() -> None:
    assert {
        "core.engine.engine",
        "core.domain.ledger",
        "core.runtime.host",
        "core.analysis.importer.build",
    } <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_core_module_does_not_import_textual_or_rich(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if "BtUnavailable" in out.stderr:  # needs the optional extra arbtui[bt]
        pytest.skip(f"{module} needs backtesting.py (pip install 'arbtui[bt]')")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
