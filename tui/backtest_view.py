"""``arbtui backtest FILE --show``: the backtest's statistics and its equity and drawdown
drawn in the terminal (the same run the command printed; nothing is run again)."""

from __future__ import annotations

import argparse
import sys
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from core.analysis.backtest.runner import BacktestRun
from core.analysis.backtest.stats import BacktestStats
from core.domain.config import Settings
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``arbtui backtest`` arguments plus ``--show``."""
    core_cli.add_arguments(parser)
    parser.add_argument(
        "--show", action="store_true", help="draw equity and drawdown in the terminal after the run"
    )


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run the backtest (printing as usual); with ``--show`` open the chart view."""
    code, run, stats = core_cli.execute(args, settings)
    if code == 0 and args.show:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            print("arbtui backtest: --show needs a terminal; the charts were not drawn",
                  file=sys.stderr)  # fmt: skip
            return code
        BacktestView(run, stats, str(args.replay)).run()
    return code
