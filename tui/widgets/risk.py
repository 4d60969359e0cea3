"""Drawdown panel: equity curve, drawdown against its limit, trading state, net delta, data age.

Equity in USD (marked to market, funding and fees included) with its peak; the curve is
``snapshot.equity_curve_usd`` drawn as a sparkline (each bar the last value of its bucket).
Drawdown and its limit are in percent of peak equity. Net delta is in BTC against the hedge
band (± BTC). A stale-data marker shows when the engine flags its market data as stale; in
paper and live modes each feed stream that is not live is listed with how long it is silent.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from core.domain.snapshot import EngineSnapshot, FeedView, RiskView
from tui import format as fmt

STATE_STYLE = {
    "DISARMED": "bold black on grey70",
    "ARMED": "bold black on green",
    "PAUSED": "bold black on yellow",
    "REDUCING": "bold black on dark_orange",
    "HALTED": "bold white on red",
}
"""Style of each trading state (also used by the status line)."""

BAR_CELLS = 16
"""Width of the drawdown-against-limit bar, in cells."""


def state_text(state: str) -> Text:
    """The trading state as a coloured badge."""
    return Text(f" {state} ", style=STATE_STYLE.get(state, "bold reverse"))


def _last(values: Sequence[float]) -> float:
    return values[-1] if values else 0.0


def drawdown_bar(drawdown_pct: float, limit_pct: float) -> Text:
    """A bar of ``BAR_CELLS`` cells filled in proportion to drawdown / limit."""
    share = 0.0 if limit_pct <= 0 else min(1.0, max(0.0, drawdown_pct / limit_pct))
    filled = round(share * BAR_CELLS)
    style = "green" if share < 0.5 else ("yellow" if share < 0.8 else "bold red")
    bar = Text("[", style="dim")
    bar.append("█" * filled, style=style)
    bar.append("·" * (BAR_CELLS - filled), style="dim")
    bar.append("]", style="dim")
    return bar


def feeds_text(feeds: tuple[FeedView, ...]) -> Text:
    """Live feeds (paper and live modes): ``feeds 4/4 live``, then each stream that is not
    live with its state and how long it has been silent."""
    t = Text()
    live = sum(1 for f in feeds if f.state == "live")
    t.append(f"  feeds {live}/{len(feeds)} live", style="green" if live == len(feeds) else "")
    for f in feeds:
        if f.state != "live":
            silent = f" {f.stale_for_ms // 1000}s" if f.stale_for_ms else ""
            t.append(f"\n         {f.venue} {f.stream} {f.state}{silent}", style="bold red")
    return t


def risk_text(risk: RiskView, feeds: tuple[FeedView, ...] = ()) -> Text:
    """The panel's text block (below the sparkline)."""
    t = Text()
    t.append("Equity   ", style="bold")
    t.append(f"{fmt.usd(risk.equity_usd)} USD")
    t.append(f"  peak {fmt.usd(risk.peak_equity_usd)}\n", style="dim")
    t.append("Drawdown ", style="bold")
    over = risk.drawdown_limit_pct > 0 and risk.drawdown_pct >= risk.drawdown_limit_pct
    t.append(fmt.pct(risk.drawdown_pct), style="bold red" if over else "")
    t.append(f" of limit {fmt.pct(risk.drawdown_limit_pct)}\n         ")
    t.append_text(drawdown_bar(risk.drawdown_pct, risk.drawdown_limit_pct))
    t.append(f"  max {fmt.pct(risk.max_drawdown_pct)}\n")
    t.append("State    ", style="bold")
    t.append_text(state_text(risk.trading_state))
    t.append("\nNet Δ    ", style="bold")
    outside = abs(risk.net_delta_btc) > risk.hedge_band_btc
    t.append(f"{fmt.btc(risk.net_delta_btc)} BTC", style="bold red" if outside else "")
    t.append(f"  band ±{fmt.btc(risk.hedge_band_btc, sign=False)}")
    t.append("  OUTSIDE" if outside else "  ok", style="bold red" if outside else "green")
    t.append("\nData     ", style="bold")
    if risk.data_stale:
        t.append(" STALE ", style="bold white on red")
    else:
        t.append("live", style="green")
    if feeds:
        t.append_text(feeds_text(feeds))
    return t


class RiskPanel(Vertical):
    """Equity sparkline and risk figures."""

    def compose(self) -> ComposeResult:
        yield Sparkline([], summary_function=_last, id="equity-spark")
        yield Static(id="risk-text")

    def on_mount(self) -> None:
        self.border_title = "Drawdown"
        self._curve: tuple[float, ...] | None = None
        self._spark = self.query_one(Sparkline)
        self._text = self.query_one("#risk-text", Static)

    def apply(self, snap: EngineSnapshot) -> None:
        """Show ``snap.risk`` and ``snap.equity_curve_usd``."""
        if snap.equity_curve_usd is not self._curve:
            self._curve = snap.equity_curve_usd
            self._spark.data = list(snap.equity_curve_usd)
        self._text.update(risk_text(snap.risk, snap.feeds))
        self.set_class(snap.risk.data_stale, "-stale")
