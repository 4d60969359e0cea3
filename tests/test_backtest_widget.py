"""The equity chart widget draws a curve and its drawdown (Pilot, no engine needed)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Sparkline, Static

from tests.helpers import ts
from tui.widgets.equity import EquityChart

CURVE = [(ts("2020-03-12T00:00"), 100.0), (ts("2020-03-12T01:00"), 110.0),
         (ts("2020-03-12T02:00"), 99.0), (ts("2020-03-12T03:00"), 121.0)]  # fmt: skip


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield EquityChart(title="backtest")


async def test_the_chart_shows_equity_and_drawdown_of_the_curve_it_is_given() -> None:
    app = ChartApp()
    async with app.run_test(size=(80, 12)) as pilot:
        chart = app.query_one(EquityChart)
        title = chart.query_one("#equity-title", Static)
        assert "no data yet" in str(title.render())
        chart.set_curve(CURVE)
        await pilot.pause()
        assert list(chart.query_one("#equity-line", Sparkline).data or []) == [100, 110, 99, 121]
        dd = list(chart.query_one("#drawdown-line", Sparkline).data or [])
        assert dd == [0.0, 0.0, 10.0, 0.0]
        text = str(title.render())
        assert "+21.00 %" in text and "max drawdown 10.00 %" in text
        assert "2020-03-12T00:00:00Z" in text
