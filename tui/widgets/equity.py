"""Equity and drawdown as terminal charts: two Textual sparklines with their ranges.

:class:`EquityChart` shows an equity curve (USD; each column the last value of its stretch of
time) above its drawdown from the running peak (%; each column the worst of its stretch), with
a title line giving the change and the largest drawdown. Feed it ``(ts_ms, equity_usd)``
points with :meth:`EquityChart.set_curve`: the hourly curve of a backtest
(``BacktestRun.curve``) or the engine's own ``equity_curve``. It draws only what it is given
and never calls the engine.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from core.domain.equity import drawdown_pct
from tui import format as fmt


def _last(values: Sequence[float]) -> float:
    return values[-1]


def _worst(values: Sequence[float]) -> float:
    return max(values)


class EquityChart(Vertical):
    """Equity sparkline over drawdown sparkline, with a title and value ranges."""

    DEFAULT_CSS = """
    EquityChart { height: auto; padding: 0 1; }
    EquityChart > .equity-title { text-style: bold; }
    EquityChart > .equity-range { color: $text-muted; }
    EquityChart > #equity-line { height: 4; }
    EquityChart > #drawdown-line { height: 2; }
    EquityChart > #drawdown-line > .sparkline--max-color { color: $error; }
    EquityChart > #drawdown-line > .sparkline--min-color { color: $error 30%; }
    """

    def __init__(
        self,
        points: Sequence[tuple[int, float]] = (),
        *,
        title: str = "equity",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._points = list(points)
        self._title = title

    def compose(self) -> ComposeResult:
        yield Static(classes="equity-title", id="equity-title")
        yield Sparkline([], summary_function=_last, id="equity-line")
        yield Static(classes="equity-range", id="equity-range")
        yield Sparkline([], summary_function=_worst, id="drawdown-line")
        yield Static(classes="equity-range", id="drawdown-range")

    def on_mount(self) -> None:
        self._draw()

    def set_curve(self, points: Sequence[tuple[int, float]]) -> None:
        """Show ``points`` ((ts_ms, equity USD) in time order) instead of the current ones."""
        self._points = list(points)
        if self.is_mounted:
            self._draw()

    @property
    def drawdown(self) -> list[float]:
        """Drawdown from the running peak at each point, % (what the lower line shows)."""
        return drawdown_pct([v for _, v in self._points])

    def _draw(self) -> None:
        equity = [v for _, v in self._points]
        dd = self.drawdown
        self.query_one("#equity-line", Sparkline).data = equity
        self.query_one("#drawdown-line", Sparkline).data = dd
        title = self.query_one("#equity-title", Static)
        rng = self.query_one("#equity-range", Static)
        dd_rng = self.query_one("#drawdown-range", Static)
        if not equity:
            title.update(f"{self._title}: no data yet")
            rng.update("")
            dd_rng.update("")
            return
        change = (equity[-1] / equity[0] - 1) * 100 if equity[0] else 0.0
        title.update(
            f"{self._title}: {fmt.ts_iso(self._points[0][0])} -> {fmt.ts_iso(self._points[-1][0])}"
            f"  {change:+.2f} %  max drawdown {max(dd):.2f} %"
        )
        rng.update(f"equity {min(equity):,.0f} .. {max(equity):,.0f} USD")
        dd_rng.update(f"drawdown 0 .. {max(dd):.2f} % (lower line)")
