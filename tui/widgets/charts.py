"""Charts view (``3``): funding rates per hour of both legs and their spread, with the entry
and exit thresholds; equity; drawdown against its limit. UTC times on the x axes.

Drawn with textual-plotext (``PlotextPlot``: plotext inside a Textual widget, pinned in
``pyproject.toml``) from the snapshot's :class:`~core.domain.snapshot.HistoryView`, one point
per hour. The plots are rebuilt only when the history changes (a new hour), never per frame.
Rates are shown in percent per hour; the entry line is the spread per hour the entry needs at
zero basis (edge plus round-trip fees over the holding horizon), the exit line the exit APR
per hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from core.domain.snapshot import EngineSnapshot, HistoryView

TICKS = 5
"""Labelled times on an x axis."""


def _hours(h: HistoryView) -> list[float]:
    """Hours since the first point (the x values)."""
    if not h.ts_ms:
        return []
    t0 = h.ts_ms[0]
    return [(t - t0) / 3_600_000 for t in h.ts_ms]


def _ticks(h: HistoryView) -> tuple[list[float], list[str]]:
    """Up to :data:`TICKS` x positions and their UTC labels (``03-13 06h``)."""
    xs = _hours(h)
    if not xs:
        return [], []
    n = len(xs)
    idx = sorted({round(i * (n - 1) / (TICKS - 1)) for i in range(TICKS)}) if n > 1 else [0]
    labels = [datetime.fromtimestamp(h.ts_ms[i] / 1000, tz=UTC).strftime("%m-%d %Hh") for i in idx]
    return [xs[i] for i in idx], labels


def _pct(values: Sequence[float | None]) -> tuple[list[float], list[int]]:
    """Known values in percent and their indexes."""
    out, at = [], []
    for i, v in enumerate(values):
        if v is not None:
            out.append(v * 100)
            at.append(i)
    return out, at


class ChartsPanel(Vertical):
    """Rates and spread; equity; drawdown against its limit."""

    DEFAULT_CSS = """
    ChartsPanel PlotextPlot { height: 1fr; min-height: 5; }
    ChartsPanel #chart-rates { height: 2fr; min-height: 8; }
    ChartsPanel #charts-empty { padding: 0 1; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield Static("No hourly points yet.", id="charts-empty")
        yield PlotextPlot(id="chart-rates")
        yield PlotextPlot(id="chart-equity")
        yield PlotextPlot(id="chart-drawdown")

    def on_mount(self) -> None:
        self.border_title = "Charts (UTC, one point an hour)"
        self._history: HistoryView | None = None

    def apply(self, snap: EngineSnapshot) -> None:
        """Redraw when ``snap.history`` is a new hour's view, and only while this view is on
        screen (the app applies the latest snapshot again when it is shown)."""
        h = snap.history
        if h is None or h is self._history or not self.display:
            return
        self._history = h
        self.query_one("#charts-empty", Static).display = not h.ts_ms
        self._rates(h)
        self._equity(h)
        self._drawdown(h)

    def _axes(self, plot: PlotextPlot, h: HistoryView, title: str, ylabel: str) -> None:
        plt = plot.plt
        plt.clear_figure()
        plt.title(title)
        plt.ylabel(ylabel)
        xs, labels = _ticks(h)
        if xs:
            plt.xticks(xs, labels)

    def _rates(self, h: HistoryView) -> None:
        plot = self.query_one("#chart-rates", PlotextPlot)
        of = f" of pair {h.spread_pair}" if h.spread_pair else ""
        title = f"Rate/h of each leg, spread{of}"
        if h.entry_per_hour is not None and h.exit_per_hour is not None:
            title += (
                f"; entry {h.entry_per_hour * 100:.4f} (green), exit "
                f"{h.exit_per_hour * 100:.4f} (red)"
            )
        self._axes(plot, h, title, "%/h")
        plt = plot.plt
        xs = _hours(h)
        for name, values in h.rates:
            ys, at = _pct(values)
            if ys:
                plt.plot([xs[i] for i in at], ys, label=name)
        ys, at = _pct(h.spread)
        if ys:
            label = f"spread {h.spread_pair}" if h.spread_pair else "spread"
            plt.plot([xs[i] for i in at], ys, label=label, marker="braille")
        if xs and h.entry_per_hour is not None:
            plt.hline(h.entry_per_hour * 100, "green")
        if xs and h.exit_per_hour is not None:
            plt.hline(h.exit_per_hour * 100, "red")
        plot.refresh()

    def _equity(self, h: HistoryView) -> None:
        plot = self.query_one("#chart-equity", PlotextPlot)
        self._axes(plot, h, "Equity", "USD")
        if h.equity_usd:
            plot.plt.plot(_hours(h), list(h.equity_usd), label="equity")
        plot.refresh()

    def _drawdown(self, h: HistoryView) -> None:
        plot = self.query_one("#chart-drawdown", PlotextPlot)
        self._axes(plot, h, f"Drawdown % from the peak, limit {h.drawdown_limit_pct:.1f}", "%")
        if h.drawdown_pct:
            plot.plt.plot(_hours(h), [-d for d in h.drawdown_pct], label="drawdown")
            plot.plt.hline(-h.drawdown_limit_pct, "red")
        plot.refresh()
