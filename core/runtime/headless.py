"""Headless runs: the same engine without a console, as fast as it can go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.analysis.replay import iter_replay
from core.domain.config import Settings
from core.runtime.drive import Drive, check_header

__all__ = ["check_header", "run_replay"]


def run_replay(settings: Settings, path: str | Path) -> dict[str, Any]:
    """Replay ``path`` through a fresh engine and return the report (see core.analysis.report).

    Raises :class:`core.analysis.replay.ReplayError` on a bad file or line.
    """
    header, events = iter_replay(path)
    with Drive.replay(settings, events, header=header, run_id=f"replay-{Path(path).name}") as drive:
        drive.run()
    return drive.report()
