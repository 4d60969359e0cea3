"""The charts view (``3``) and the engine's bounded hourly history behind it (issue 13,
item 3): one point per hour of engine time, never more than ``HISTORY_HOURS``; the chart
screen draws rates, spread, thresholds, equity and drawdown with UTC times."""

from __future__ import annotations

import itertools

import pytest

from core.analysis.replay import iter_replay
from core.domain.config import load_config
from core.domain.market import HOUR_MS
from core.engine.history import History
from core.runtime.drive import Drive
from core.runtime.host import EngineHost
from tests.conftest import ROOT
from tui.app import ArbConsole
from tui.testing import eventually, wait_until
from tui.widgets import ChartsPanel

DEFAULT_REPLAY = ROOT / "replays" / "btc_binance_bybit_2024-03.jsonl.gz"
OPEN_2024_TS_MS = 1710504000000  # 2024-03-15T12:00Z


def test_history_keeps_one_point_an_hour_and_at_most_its_bound() -> None:
    s = load_config(ROOT / "config.toml")
    header, events = iter_replay(DEFAULT_REPLAY)
    drive = Drive.replay(s, events, header=header, observers=False)
    history = History(drive.engine, maxlen=100)
    drive.advance(after=history.after)
    points = list(history.points)
    assert len(points) == 100  # the replay spans 480 hours: the oldest went
    assert all(b.ts_ms // HOUR_MS > a.ts_ms // HOUR_MS for a, b in itertools.pairwise(points))
    assert points[-1].ts_ms == drive.engine.now
    view = history.view()
    assert view is history.view()  # rebuilt only when a point is added
    assert [name for name, _ in view.rates] == ["binance BTCUSDT", "bybit BTCUSDT"]
    assert len(view.equity_usd) == len(view.ts_ms) == 100
    strategy = s.strategy
    fees = drive.engine.pairs[0].signal.round_trip_fees
    assert view.entry_per_hour == (strategy.entry_edge_pct / 100 + fees) / strategy.holding_hours
    assert view.exit_per_hour == strategy.exit_apr_pct / 100 / (24 * 365)


async def test_3_shows_the_charts_of_the_hours_so_far() -> None:
    s = load_config(ROOT / "config.toml")
    host = EngineHost.for_replay(s, DEFAULT_REPLAY, pause_at_ts_ms=OPEN_2024_TS_MS)
    host.start()
    try:
        wait_until(lambda: host.snapshot().replay.paused)
        history = host.snapshot().history
        assert history is not None
        assert len(history.ts_ms) == 131  # 03-01 00h .. 03-15 11h, one point a bar's hour
        app = ArbConsole(host, s)
        async with app.run_test(size=(120, 40)) as pilot:
            await eventually(pilot, lambda: app.snapshot is not None)
            await pilot.press("3")
            assert app.current_view == "charts"
            charts = app.query_one(ChartsPanel)
            assert charts.region.height > 30
            rates = str(charts.query_one("#chart-rates").render())
            assert "binance BTCUSDT" in rates and "spread" in rates
            assert "03-01 00h" in rates and "03-15 11h" in rates  # UTC times on the x axis
            assert "entry 0.0112 (green), exit 0.0011 (red)" in rates
            drawdown = str(charts.query_one("#chart-drawdown").render())
            assert "limit 10.0" in drawdown
            await pilot.press("1")
            assert app.current_view == "main"
    finally:
        host.stop()


def test_with_a_coin_balance_the_curve_starts_once_it_is_valued_and_names_the_spread_pair() -> None:
    """The three-pair replay holds BTC collateral at Binance COIN-M: before its first mark the
    equity is USDT cash only (200,000), so no point is taken until the coin is valued (the
    curve jumped from 200,000 to 262,514 at its second point). The spread drawn is the first
    pair's, and says so when there are several."""
    data = ROOT / "tests" / "data"
    s = load_config(data / "three_pairs.toml")
    header, events = iter_replay(data / "three_pairs_2024-03-01_04_partly_generated.jsonl")
    drive = Drive.replay(s, events, header=header, observers=False)
    history = History(drive.engine, maxlen=1000)
    drive.advance(after=history.after)
    view = history.view()
    assert view.spread_pair == s.pairs[0].name
    start = drive.engine.start_equity_usd
    assert start is not None and start > 250_000  # the coin valued (BTC near 62,000)
    assert view.equity_usd[0] == pytest.approx(start, rel=1e-3)
    assert min(view.equity_usd) > 250_000  # never the cash-only reading
