"""Headless runs: the same engine without a console, as fast as it can go."""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

from core.analysis.replay import iter_replay
from core.analysis.report import build_report
from core.domain.config import Settings
from core.domain.events import InstrumentSpec, ReplayHeader
from core.engine.engine import Engine
from core.runtime.wiring import attach_observers


def check_header(engine: Engine, header: ReplayHeader) -> list[str]:
    """Warnings for instruments the replay and the config disagree on (the config's specs
    are the ones traded; a pair whose legs are absent from the replay will never trade)."""
    notes = []
    in_file: dict[tuple[str, str], InstrumentSpec] = {
        (s.venue, s.symbol): s for s in header.instruments
    }
    for key, spec in engine.specs.items():
        other = in_file.get(key)
        if other is not None and other != spec:
            notes.append(f"{key[0]} {key[1]}: the replay's contract spec differs from the config's")
    for pr in engine.pairs:
        for key in (pr.key_a, pr.key_b):
            if key not in in_file:
                notes.append(
                    f"pair {pr.cfg.name}: {key[0]} {key[1]} is not in this replay "
                    "(replays/README.md names the config each shipped file runs with)"
                )
    return notes


def run_replay(settings: Settings, path: str | Path) -> dict[str, Any]:
    """Replay ``path`` through a fresh engine and return the report (see core.analysis.report).

    Raises :class:`core.analysis.replay.ReplayError` on a bad file or line.
    """
    engine = Engine(settings, mode="replay")
    header, events = iter_replay(path)
    closers = attach_observers(engine, run_id=f"replay-{Path(path).name}")
    try:
        for note in check_header(engine, header):
            engine.alert(note)
        t0 = time.perf_counter()
        on_event = engine.on_event
        for ev in events:
            on_event(ev)
        wall = time.perf_counter() - t0
    except Exception as exc:  # recorded with its traceback while the audit log is open
        engine.error(f"replay stopped: {type(exc).__name__}: {exc}", traceback.format_exc())
        raise
    finally:
        for close in closers:
            close()
    report = build_report(engine, wall)
    report["alerts"] = [e.text for e in engine.log if e.kind == "alert"][-50:]
    return report
