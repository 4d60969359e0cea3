"""The opt-in compiled build (bench/build_compiled.sh) never runs stale code: a source edited
after its ``.so`` was built is named, and ``arbtui`` refuses to start (exit 2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.runtime import compiled
from core.runtime.compiled import stale_builds, stale_message
from tui import cli


def checkout(root: Path, source_mtime: int) -> Path:
    """A checkout's core/engine/pair.py with its compiled module built at t=2000."""
    engine = root / "core" / "engine"
    engine.mkdir(parents=True, exist_ok=True)
    (engine / "pair.py").write_text("x = 1\n")
    so = engine / "pair.cpython-311-x86_64-linux-gnu.so"
    so.write_bytes(b"")
    os.utime(so, (2_000, 2_000))
    os.utime(engine / "pair.py", (source_mtime, source_mtime))
    return root


def test_a_source_edited_after_its_build_is_named(tmp_path: Path) -> None:
    assert stale_builds(checkout(tmp_path, 1_000)) == []  # built after its source
    assert stale_builds(checkout(tmp_path, 3_000)) == ["core/engine/pair.py"]
    (tmp_path / "core" / "lone.so").write_bytes(b"")  # no source beside it: not ours
    assert stale_builds(tmp_path) == ["core/engine/pair.py"]


def test_arbtui_refuses_to_run_a_stale_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(compiled, "ROOT", checkout(tmp_path, 3_000))  # the checkout it reads
    assert cli.main(["--replay", "replays/btc_binance_bybit_2024-03.jsonl.gz", "--headless"]) == 2
    assert capsys.readouterr().err.strip() == "arbtui: " + stale_message(["core/engine/pair.py"])
    assert stale_message(["core/engine/pair.py"]) == (
        "changed after their compiled build: core/engine/pair.py; run bench/build_compiled.sh "
        "(rebuild) or bench/build_compiled.sh --clean (pure Python)"
    )
