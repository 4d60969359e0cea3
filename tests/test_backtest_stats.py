"""Backtest statistics: worked numbers on a small curve, then the shipped March 2020 replay."""

from __future__ import annotations

import math

import pytest

from core.analysis.backtest.runner import BacktestRun, run_file
from core.analysis.backtest.stats import (
    RoundTrip,
    compute_stats,
    curve_stats,
    exposure_pct,
    metric_names,
)
from core.domain.config import Settings
from core.domain.equity import DAY_MS, HOUR_MS, drawdown_pct
from tests.conftest import HISTORY_CONFIG, SHIPPED_REPLAY
from tests.helpers import ts

CURVE = [(0, 100.0), (DAY_MS, 110.0), (2 * DAY_MS, 99.0), (3 * DAY_MS, 121.0)]


def test_return_and_annualised_return_of_a_curve() -> None:
    s = curve_stats(CURVE)
    assert s.return_pct == pytest.approx(21.0)
    assert s.annual_return_pct == pytest.approx((1.21 ** (365 / 3) - 1) * 100)


def test_sharpe_and_sortino_use_daily_returns_and_sqrt_365() -> None:
    rets = [0.1, -0.1, 121 / 99 - 1]
    mean = sum(rets) / 3
    sd = math.sqrt(sum((r - mean) ** 2 for r in rets) / 2)
    down = math.sqrt(0.1**2 / 3)
    s = curve_stats(CURVE)
    assert s.sharpe == pytest.approx(mean / sd * math.sqrt(365))
    assert s.sortino == pytest.approx(mean / down * math.sqrt(365))


def test_max_drawdown_and_its_duration_from_peak_to_recovery() -> None:
    s = curve_stats(CURVE)
    assert s.max_drawdown_pct == pytest.approx(10.0)  # 110 -> 99
    assert s.max_drawdown_duration_h == pytest.approx(48.0)  # day 1 peak, back above on day 3
    assert drawdown_pct([100.0, 110.0, 99.0, 121.0]) == pytest.approx([0.0, 0.0, 10.0, 0.0])


def test_a_drawdown_never_recovered_lasts_until_the_end() -> None:
    s = curve_stats([(0, 100.0), (HOUR_MS, 90.0), (5 * HOUR_MS, 95.0)])
    assert s.max_drawdown_pct == pytest.approx(10.0)
    assert s.max_drawdown_duration_h == pytest.approx(5.0)
    assert s.sharpe is None  # fewer than two daily returns


def test_exposure_counts_overlapping_round_trips_once() -> None:
    def trip(a: int, b: int | None) -> RoundTrip:
        return RoundTrip("p", 1, a, b, (), 2, 0.0, 0.0, 0.0)

    trips = [trip(0, 10 * HOUR_MS), trip(5 * HOUR_MS, 20 * HOUR_MS), trip(90 * HOUR_MS, None)]
    assert exposure_pct(trips, 0, 100 * HOUR_MS) == pytest.approx(30.0)  # 0-20 h and 90-100 h


@pytest.fixture(scope="module")
def shipped(request: pytest.FixtureRequest) -> BacktestRun:
    from core.domain.config import load_config

    return run_file(load_config(HISTORY_CONFIG), SHIPPED_REPLAY, observers=False)


def test_the_shipped_replay_has_one_round_trip_at_the_engines_times(shipped: BacktestRun) -> None:
    s = compute_stats(shipped)
    got = [(t.entry_ts_ms, t.exit_ts_ms, len(t.add_ts_ms), t.direction) for t in s.round_trips]
    assert got == [(ts("2020-03-12T14:00:59.999"), ts("2020-03-18T19:00:59.999"), 4, 1)]
    assert s.win_rate_pct == 100.0
    entries = [t.fill.ts_ms for t in shipped.engine.ledger.trades if t.fill.purpose == "entry"]
    assert {t.entry_ts_ms for t in s.round_trips} == set(entries)


def test_round_trips_and_venues_add_up_to_the_reports_pnl(shipped: BacktestRun) -> None:
    s = compute_stats(shipped)
    total = shipped.report["pnl_usd"]["total"]
    assert sum(t.pnl_usd for t in s.round_trips) == pytest.approx(total, abs=1e-6)
    assert sum(v.total_usd for v in s.per_venue) == pytest.approx(total, abs=1e-6)
    assert s.total_pnl_usd == pytest.approx(total, abs=1e-9)
    by = {v.venue: v for v in s.per_venue}
    rep = shipped.report["per_venue"]
    assert by["bitmex"].funding_received_usd == pytest.approx(rep["bitmex"]["funding_received_usd"])
    assert by["binance"].fees_usd == pytest.approx(rep["binance"]["fees_usd"])


def test_the_strategy_curve_ends_at_start_plus_pnl_and_leaves_out_collateral(
    shipped: BacktestRun,
) -> None:
    s = compute_stats(shipped)
    rep = shipped.report
    assert s.equity_start_usd == pytest.approx(rep["equity_start_usd"])
    assert s.equity_end_usd == pytest.approx(rep["equity_start_usd"] + rep["pnl_usd"]["total"])
    assert s.account_equity_end_usd == pytest.approx(rep["equity_end_usd"])
    assert s.account_max_drawdown_pct == rep["max_drawdown_pct"]
    # one point per hour of the engine's own curve, plus the end of the run
    assert len(shipped.curve) == len(shipped.engine.equity_curve) + 1
    assert shipped.curve[-1][0] == shipped.engine.now == ts("2020-03-23T23:59:59.999")
    # flat until the first entry: the strategy curve does not move with the XBT collateral
    before = [e for t, e, _ in shipped.curve if t < ts("2020-03-12T14:00")]
    assert max(before) == min(before) == rep["equity_start_usd"]


def test_the_exposure_is_the_time_the_round_trips_were_open(shipped: BacktestRun) -> None:
    s = compute_stats(shipped)
    open_ms = sum(t.exit_ts_ms - t.entry_ts_ms for t in s.round_trips if t.exit_ts_ms)
    assert s.exposure_pct == pytest.approx(100 * open_ms / (s.end_ts_ms - s.start_ts_ms))


def test_every_metric_named_is_in_the_row(shipped: BacktestRun, settings: Settings) -> None:
    assert list(compute_stats(shipped).row()) == metric_names(settings)
