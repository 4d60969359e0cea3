"""``arbtui backtest --show`` draws the run it printed in the terminal."""

from __future__ import annotations

import argparse

from core.domain.config import Settings
from tests.conftest import SHIPPED_REPLAY
from tui.backtest_view import BacktestView, add_arguments
from tui.commands import backtest as core_cli
from tui.widgets.equity import EquityChart


async def test_the_view_shows_the_runs_equity_curve_and_statistics(settings: Settings) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([str(SHIPPED_REPLAY), "--no-files", "--show"])
    code, run, stats = core_cli.execute(args, settings)
    assert code == 0
    app = BacktestView(run, stats, "march")
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(EquityChart)
        assert len(chart.drawdown) == len(run.curve)
        assert max(chart.drawdown) > 1.0  # the crash shows as a drawdown
        await pilot.press("q")
    assert app.return_code in (0, None)
