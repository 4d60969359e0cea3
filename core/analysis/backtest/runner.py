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

import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.analysis.replay import iter_replay, load_replay
from core.analysis.report import build_report
from core.domain.config import Settings
from core.domain.events import Event, ReplayHeader
from core.domain.market import mark_decimal
from core.engine.engine import Engine
from core.runtime.headless import check_header
from core.runtime.wiring import attach_observers

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


def strategy_pnl_usd(engine: Engine) -> float:
    """Basis (realised + unrealised at mark) + funding - fees so far, USD (as the report)."""
    led = engine.ledger
    total = led.realised_usd + led.funding_usd - led.fees_usd
    if led.has_exposure():
        marks = {
            k: mark_decimal(st)
            for k, st in engine.market.instruments.items()
            if st.mark is not None
        }
        total += led.unrealised_usd(marks, Decimal(repr(engine.coin_usd())))
    return float(total)


def run_events(
    settings: Settings,
    events: Iterable[Event],
    *,
    header: ReplayHeader | None = None,
    observers: bool = False,
    run_id: str = "backtest",
) -> BacktestRun:
    """Run ``events`` (in replay order) through a fresh replay-mode engine.

    ``observers`` attaches the run's recorders (audit log, file log, metrics) as a headless
    replay does; the optimiser runs without them."""
    engine = Engine(settings, mode="replay")
    closers = attach_observers(engine, run_id=run_id) if observers else []
    curve: list[CurvePoint] = []
    try:
        if header is not None:
            for note in check_header(engine, header):
                engine.alert(note)
        on_event = engine.on_event
        hourly = engine.equity_curve
        seen = 0
        t0 = time.perf_counter()
        for ev in events:
            on_event(ev)
            if len(hourly) != seen:
                seen = len(hourly)
                start = engine.start_equity_usd or 0.0
                curve.append((ev.ts_ms, start + strategy_pnl_usd(engine), engine.equity_usd))
        wall = time.perf_counter() - t0
    finally:
        for close in closers:
            close()
    if curve:  # the end of the run, after its last event
        start = engine.start_equity_usd or 0.0
        point = (engine.now, start + strategy_pnl_usd(engine), engine.equity_usd)
        if curve[-1][0] == engine.now:
            curve[-1] = point
        else:
            curve.append(point)
    report = build_report(engine, wall)
    report["alerts"] = [e.text for e in engine.log if e.kind == "alert"][-50:]
    return BacktestRun(settings, engine, report, curve, header)


def run_file(
    settings: Settings, path: str | Path, *, observers: bool = True, preload: bool = False
) -> BacktestRun:
    """Run the replay file ``path`` (decoded lazily, or read whole first with ``preload`` so
    that the timing covers the engine alone). Raises :class:`core.analysis.replay.ReplayError`."""
    if preload:
        header, events = load_replay(path)
        return run_events(
            settings, events, header=header, observers=observers, run_id=_run_id(path)
        )
    header, it = iter_replay(path)
    return run_events(settings, it, header=header, observers=observers, run_id=_run_id(path))


def _run_id(path: str | Path) -> str:
    return f"backtest-{Path(path).name}"
