"""Drawdown panel: equity curve, drawdown against its limit, trading state, net delta, data age.

Equity in USD (marked to market, funding and fees included) with its peak; the curve is
``snapshot.equity_curve_usd`` drawn as a sparkline (each bar the last value of its bucket).
Drawdown and its limit are in percent of peak equity. Net delta is in BTC against the hedge
band (± BTC); with several pairs, one line per pair in its own base asset against its own
band (BTC and XRP are never added). A stale-data marker shows when the engine flags its
market data as stale; in paper and live modes each feed stream that is not live is listed with
how long it is silent.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from core.domain.equity import drawdown_pct
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


def drawdown_bar(drawdown_pct: float, limit_pct: float, cells: int = BAR_CELLS) -> Text:
    """A bar of ``cells`` cells filled in proportion to drawdown / limit."""
    share = 0.0 if limit_pct <= 0 else min(1.0, max(0.0, drawdown_pct / limit_pct))
    filled = round(share * cells)
    style = "green" if share < 0.5 else ("yellow" if share < 0.8 else "bold red")
    bar = Text("[", style="dim")
    bar.append("█" * filled, style=style)
    bar.append("·" * (cells - filled), style="dim")
    bar.append("]", style="dim")
    return bar


def feeds_text(feeds: tuple[FeedView, ...]) -> Text:
    """Live feeds (paper and live modes): ``feeds 4/4 live``, then, one a line, each stream
    that is not live with its state and how long it has been silent."""
    t = Text()
    live = sum(1 for f in feeds if f.state == "live")
    t.append(f"feeds {live}/{len(feeds)} live", style="green" if live == len(feeds) else "")
    for f in feeds:
        if f.state != "live":
            silent = f" {f.stale_for_ms // 1000}s" if f.stale_for_ms else ""
            t.append(f"\n{f.venue} {f.stream} {f.state}{silent}", style="bold red")
    return t


LABEL_CELLS = 9
"""Width of the label column; values wrap under their own column, never under the label."""


def risk_rows(
    risk: RiskView,
    feeds: tuple[FeedView, ...] = (),
    compact: bool = False,
    stopped: bool = False,
    recorded: str = "",
) -> list[tuple[str, Text]]:
    """The panel's rows as (label, value); ``compact`` (narrow terminal) breaks long values
    into shorter lines, draws a shorter bar and gives each pair's net delta one line
    (``BTC-COINM -0.0006 ok``: no unit, no band); with several pairs their net deltas come
    after Data, so that a short panel cuts a pair's line before the data's health;
    ``stopped``: the data ended on a failure (a replay's bad line), so it is not live;
    ``recorded``: a replay's data is history, said instead of "live" (``recorded``, or
    ``recorded, ended`` once played to its end)."""
    rows: list[tuple[str, Text]] = []
    equity = Text(f"{fmt.usd(risk.equity_usd)} USD")
    peak = fmt.usd(risk.peak_equity_usd) if risk.peak_equity_usd > 0 else "—"  # no price yet
    equity.append(("\n" if compact else "  ") + f"peak {peak}", "dim")
    rows.append(("Equity", equity))
    over = risk.drawdown_limit_pct > 0 and risk.drawdown_pct >= risk.drawdown_limit_pct
    dd = Text(fmt.pct(risk.drawdown_pct), style="bold red" if over else "")
    dd.append(f" of limit {fmt.pct(risk.drawdown_limit_pct)}\n")
    dd.append_text(
        drawdown_bar(risk.drawdown_pct, risk.drawdown_limit_pct, 10 if compact else BAR_CELLS)
    )
    dd.append(f" max {fmt.pct(risk.max_drawdown_pct)}")
    rows.append(("Drawdown", dd))
    if not compact:  # narrow: the status line (and the banner) carry it; Data must show
        rows.append(("State", state_text(risk.trading_state)))
    if risk.pair_deltas:  # several pairs: each in its own asset, against its own band
        delta = Text()
        for i, (name, asset, value, band) in enumerate(risk.pair_deltas):
            outside = abs(value) > band
            delta.append("\n" if i else "")
            figure = f"{name} {value:+,.4f}" + ("" if compact else f" {asset}")
            delta.append(figure, style="bold red" if outside else "")
            if not compact:  # narrow: one line a pair (the band is in the config; ok says it)
                delta.append(f" ±{band:,.4f}")
            delta.append(" OUTSIDE" if outside else " ok", style="bold red" if outside else "green")
        net_delta = ("Net Δ", delta)
    else:
        outside = abs(risk.net_delta_btc) > risk.hedge_band_btc
        delta = Text(f"{fmt.btc(risk.net_delta_btc)} BTC", style="bold red" if outside else "")
        delta.append(
            ("  band ±" if not compact else " ±") + fmt.btc(risk.hedge_band_btc, sign=False)
        )
        delta.append(" OUTSIDE" if outside else " ok", style="bold red" if outside else "green")
        net_delta = ("Net Δ", delta)
    if not risk.pair_deltas:
        rows.append(net_delta)
    if stopped:
        data = Text(" STOPPED ", style="bold white on red")
    elif risk.data_stale:
        data = Text(" STALE ", style="bold white on red")
    elif recorded:  # a replay: history, never live
        data = Text(recorded, "cyan")
    else:
        data = Text("live", "green")
    if feeds:
        data.append(", ")
        data.append_text(feeds_text(feeds))
    rows.append(("Data", data))
    if risk.pair_deltas:  # a line a pair: last, so that more pairs never push Data off
        rows.append(net_delta)
    return rows


def risk_text(
    risk: RiskView,
    feeds: tuple[FeedView, ...] = (),
    compact: bool = False,
    stopped: bool = False,
    recorded: str = "",
) -> Text:
    """The panel's rows as one text, continuation lines indented under their value."""
    t = Text()
    for i, (label, value) in enumerate(risk_rows(risk, feeds, compact, stopped, recorded)):
        if i:
            t.append("\n")
        t.append(f"{label:<{LABEL_CELLS}}", style="bold")
        for j, line in enumerate(value.split("\n")):
            if j:
                t.append("\n" + " " * LABEL_CELLS)
            t.append_text(line)
    return t


def risk_grid(
    risk: RiskView,
    feeds: tuple[FeedView, ...] = (),
    compact: bool = False,
    stopped: bool = False,
    recorded: str = "",
) -> Table:
    """The panel's rows as a two-column grid (see :func:`rows_grid`)."""
    return rows_grid(risk_rows(risk, feeds, compact, stopped, recorded))


def rows_grid(rows: Sequence[tuple[str, Text]]) -> Table:
    """``(label, value)`` rows as a two-column grid: a value too long for the panel wraps
    under itself (hanging indent), never back under the label."""
    grid = Table.grid(padding=(0, 0))
    grid.add_column(width=LABEL_CELLS, no_wrap=True, style="bold")
    grid.add_column(ratio=1)
    for label, value in rows:
        grid.add_row(label, value)
    return grid


class RiskPanel(Vertical):
    """Equity sparkline and risk figures."""

    def compose(self) -> ComposeResult:
        yield Sparkline([], summary_function=_last, id="equity-spark")
        yield Static(id="risk-text")

    def on_mount(self) -> None:
        self.border_title = "Drawdown"
        self._curve: tuple[float, ...] | None = None
        self.compact = False
        """Narrow terminal: shorter lines (see :func:`risk_rows`)."""
        self._snap: EngineSnapshot | None = None
        self._rows: list[tuple[str, Text]] = []
        self._spark = self.query_one(Sparkline)
        self._text = self.query_one("#risk-text", Static)

    def apply(self, snap: EngineSnapshot) -> None:
        """Show ``snap.risk`` and ``snap.equity_curve_usd``."""
        if snap.equity_curve_usd is not self._curve:
            self._curve = snap.equity_curve_usd
            self._spark.data = list(snap.equity_curve_usd)
        self._snap = snap
        rp = snap.replay
        stopped = rp is not None and bool(rp.failed)
        recorded = "" if rp is None else ("recorded, ended" if rp.finished else "recorded")
        rows = risk_rows(snap.risk, snap.feeds, self.compact, stopped, recorded)
        if rows != self._rows:
            # laid out again only when a value's length changed (it may wrap differently)
            layout = [len(v.plain) for _, v in rows] != [len(v.plain) for _, v in self._rows]
            self._rows = rows
            self._text.update(rows_grid(rows), layout=layout)
        self.set_class(snap.risk.data_stale, "-stale")

    def set_compact(self, compact: bool) -> None:
        """Narrow terminal: break long values into shorter lines."""
        if compact != self.compact:
            self.compact = compact
            if self._snap is not None:
                self.apply(self._snap)


class EquityPanel(Vertical):
    """The second screen's equity view: the equity curve large, its drawdown from the running
    peak below it (each column the worst of its stretch), with their ranges and the limit."""

    DEFAULT_CSS = """
    EquityPanel #equity-big { height: 1fr; min-height: 3; margin: 0 1; }
    EquityPanel #drawdown-big { height: 3; margin: 0 1; }
    EquityPanel #drawdown-big > .sparkline--max-color { color: $error; }
    EquityPanel #drawdown-big > .sparkline--min-color { color: $error 30%; }
    EquityPanel .equity-range { padding: 0 1; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield Static(classes="equity-range", id="equity-big-range")
        yield Sparkline([], summary_function=_last, id="equity-big")
        yield Static(classes="equity-range", id="drawdown-big-range")
        yield Sparkline([], summary_function=max, id="drawdown-big")

    def on_mount(self) -> None:
        self.border_title = "Equity and drawdown"
        self._curve: tuple[float, ...] | None = None

    def apply(self, snap: EngineSnapshot) -> None:
        """Show ``snap.equity_curve_usd`` and its drawdown against ``snap.risk``'s limit."""
        risk = snap.risk
        self.query_one("#drawdown-big-range", Static).update(
            f"drawdown now {fmt.pct(risk.drawdown_pct)}, max {fmt.pct(risk.max_drawdown_pct)},"
            f" limit {fmt.pct(risk.drawdown_limit_pct)} (lower line, % from the peak)"
        )
        if snap.equity_curve_usd is self._curve:
            return
        self._curve = snap.equity_curve_usd
        equity = list(snap.equity_curve_usd)
        self.query_one("#equity-big", Sparkline).data = equity
        self.query_one("#drawdown-big", Sparkline).data = drawdown_pct(equity)
        rng = self.query_one("#equity-big-range", Static)
        if equity:
            rng.update(
                f"equity {fmt.usd(min(equity), 0)} .. {fmt.usd(max(equity), 0)} USD,"
                f" now {fmt.usd(risk.equity_usd)}"
            )
        else:
            rng.update("equity: no points yet")
