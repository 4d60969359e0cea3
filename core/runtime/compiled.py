"""The opt-in compiled build of the hot path (``bench/build_compiled.sh``: a mypyc ``.so``
beside each of a few sources, which Python imports before the ``.py``): which sources changed
after their build. Such a build would run (and be tested as) the old code, so ``arbtui`` and
the test suite refuse to start until it is rebuilt or removed."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
"""The checkout the ``core`` package lives in."""


def stale_builds(root: Path | None = None) -> list[str]:
    """The sources under ``root/core`` (default :data:`ROOT`) edited after their compiled
    module was built (paths relative to ``root``); empty for a pure-Python checkout."""
    root = ROOT if root is None else root
    return sorted(
        str(py.relative_to(root))
        for so in root.glob("core/**/*.so")
        if (py := so.with_name(so.name.split(".")[0] + ".py")).exists()
        and py.stat().st_mtime > so.stat().st_mtime
    )


def stale_message(stale: list[str]) -> str:
    """One line for the operator: what is stale and the two ways out."""
    return (
        f"changed after their compiled build: {', '.join(stale)}; run "
        "bench/build_compiled.sh (rebuild) or bench/build_compiled.sh --clean (pure Python)"
    )
