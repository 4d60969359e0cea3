"""``arbtui backtest FILE --show``: the backtest's statistics and its equity and drawdown
drawn in the terminal (the same run the command printed; nothing is run again)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from core.analysis.backtest.runner import BacktestRun
from core.analysis.backtest.stats import BacktestStats
from tui.commands import backtest as core_cli
from tui.widgets.equity import EquityChart


class BacktestView(App[None]):
    """Equity chart over the statistics table; ``q`` quits."""

    TITLE = "arbtui backtest"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]

    def __init__(self, run: BacktestRun, stats: BacktestStats, replay: str) -> None:
        super().__init__()
        self.run_ = run
        self.stats = stats
        self.replay = replay

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield EquityChart(
                [(p[0], p[1]) for p in self.run_.curve], title=f"strategy equity, {self.replay}"
            )
            yield Static(core_cli.format_stats(self.run_, self.stats, self.replay))
        yield Footer()


#: ``arbtui backtest``'s arguments, ``--show`` included (kept here for the view's callers).
add_arguments = core_cli.add_arguments
#: ``arbtui backtest`` (``--show`` opens :class:`BacktestView`).
run_command = core_cli.run_command
