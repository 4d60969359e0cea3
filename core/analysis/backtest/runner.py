"""One backtest: a replay through a fresh engine, headless, with an hourly equity curve.

The engine is the one every mode runs (:class:`core.engine.engine.Engine`); this module only drives
it and samples, at each hourly point of the engine's own equity curve, two equities (USD):

- strategy equity = starting equity + the strategy's PnL so far (basis + funding - fees, the
  ``pnl_usd.total`` of :mod:`core.analysis.report`), which leaves out the price move of the XBT
  collateral held on BitMEX;
- account equity = what the engine's drawdown monitor sees (collateral at its mark).

The final strategy equity equals ``equity_start_usd + pnl_usd.total`` of the report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.analysis.replay import iter_replay, load_replay
from core.domain.config import Settings
from core.domain.events import Event, ReplayHeader
from core.engine.engine import Engine
from core.runtime.drive import Drive
from core.venues.history import funding_caps

#: (ts_ms, strategy equity USD, account equity USD), one a simulated hour.
CurvePoint = tuple[int, float, float]


@dataclass(slots=True)
class BacktestRun:
    """A finished run: the engine (ledger, trades, funding), its report and the curve."""

    settings: Settings
    engine: Engine
    report: dict[str, Any]
    curve: list[CurvePoint]
    header: ReplayHeader | None = None


def run_events(
    settings: Settings,
    events: Iterable[Event],
    *,
    header: ReplayHeader | None = None,
    observers: bool = False,
    run_id: str = "backtest",
) -> BacktestRun:
    """Run ``events`` (in replay order) through a fresh replay-mode engine (the one drive
    loop, :class:`core.runtime.drive.Drive`), sampling the curve at each hourly point.

    ``observers`` attaches the run's recorders (audit log, file log, metrics) as a headless
    replay does; the optimiser runs without them."""
    curve: list[CurvePoint] = []
    with Drive.replay(settings, events, header=header, run_id=run_id, observers=observers) as drive:
        engine = drive.engine
        strategy = drive.strategy_curve  # the drive's point of the hour, taken just before

        def sample(ev: Event) -> None:  # after an instant that took an hourly equity point
            curve.append((ev.ts_ms, strategy[-1][1], engine.equity_usd))

        drive.run(after_hour=sample)
    if curve:  # the end of the run, after its last event
        start = engine.start_equity_usd or 0.0
        point = (engine.now, start + engine.strategy_pnl_usd(), engine.equity_usd)
        if curve[-1][0] == engine.now:
            curve[-1] = point
        else:
            curve.append(point)
    return BacktestRun(settings, engine, drive.report(), curve, header)


def run_file(
    settings: Settings, path: str | Path, *, observers: bool = True, preload: bool = False
) -> BacktestRun:
    """Run the replay file ``path`` (decoded lazily, or read whole first with ``preload`` so
    that the timing covers the engine alone). Raises :class:`core.analysis.replay.ReplayError`."""
    if preload:
        header, events = load_replay(path, funding_caps())
        return run_events(
            settings, events, header=header, observers=observers, run_id=_run_id(path)
        )
    header, it = iter_replay(path, funding_caps())
    return run_events(settings, it, header=header, observers=observers, run_id=_run_id(path))


def _run_id(path: str | Path) -> str:
    return f"backtest-{Path(path).name}"
