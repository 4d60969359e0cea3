"""``arbtui backtest FILE [--config PATH] [--set KEY=VALUE ...] [--out DIR]``.

Runs the replay headless through the engine and prints the standard statistics (see
:mod:`core.analysis.backtest.stats`), a text sparkline of equity and drawdown, and writes to
``--out``:
``<replay>_equity.png`` and ``<replay>_equity.html`` (equity and drawdown charts; needs the
``plot`` extra, else a clear note and the HTML page without the chart) and
``<replay>_stats.json`` (every figure, the round trips and the hourly curve). ``--show`` then
draws the same run in the terminal (:mod:`tui.backtest_view`).

Exit codes: 0 fine; 2 bad input (config key or value, replay file), named on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.padding import Padding
from rich.table import Table

from core.domain.config import Settings
from core.domain.equity import drawdown_pct
from tui.commands.text import render

if TYPE_CHECKING:  # imported when a backtest runs, not when the command line is built
    from core.analysis.backtest.runner import BacktestRun, CurvePoint
    from core.analysis.backtest.stats import BacktestStats

BLOCKS = "▁▂▃▄▅▆▇█"
#: Width of the labels of the text output ("sharpe / sortino" and the like).
LABEL_WIDTH = 17


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the backtest arguments to ``parser``."""
    parser.add_argument("replay", type=Path, metavar="FILE", help="replay file (.jsonl or .gz)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key, e.g. --set strategy.entry_edge_pct=0.8 (repeatable)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("backtest-results"),
        metavar="DIR",
        help="folder for the PNG, HTML and JSON files (default ./backtest-results)",
    )
    parser.add_argument("--no-files", action="store_true", help="print only; write no files")
    parser.add_argument(
        "--json", action="store_true", help="print the statistics as JSON instead of text"
    )
    parser.add_argument(
        "--show", action="store_true", help="draw equity and drawdown in the terminal after the run"
    )


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """``arbtui backtest``: exit code 0, or 2 on bad input (raised as ConfigError or
    ReplayError and reported by the CLI). With ``--show`` the run is then drawn."""
    code, run, stats = execute(args, settings)
    if code == 0 and args.show:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            print("arbtui backtest: --show needs a terminal; the charts were not drawn",
                  file=sys.stderr)  # fmt: skip
            return code
        from tui.backtest_view import BacktestView

        BacktestView(run, stats, str(args.replay)).run()
    return code


def execute(args: argparse.Namespace, settings: Settings) -> tuple[int, BacktestRun, BacktestStats]:
    """Run, print and write files; return the exit code, the run and its statistics (the
    console's ``--show`` draws them)."""
    from core.analysis.backtest.overrides import parse_assignment, with_overrides
    from core.analysis.backtest.runner import run_file
    from core.analysis.backtest.stats import compute_stats

    overrides = dict(parse_assignment(s) for s in args.set)
    settings = with_overrides(settings, overrides)
    run = run_file(settings, args.replay, observers=True)
    stats = compute_stats(run)
    files: list[str] = []
    notes: list[str] = []
    if not args.no_files:
        files, notes = write_files(run, stats, args.replay, args.out)
    if args.json:
        print(json.dumps(stats_json(run, stats, include_curve=False), indent=1))
    else:
        print(format_stats(run, stats, str(args.replay)))
        for f in files:
            print(f"{'wrote':<{LABEL_WIDTH}} {f}")
    for n in notes:
        print(f"arbtui backtest: {n}", file=sys.stderr)
    return 0, run, stats


# ----------------------------------------------------------------------- output
def write_files(
    run: BacktestRun, stats: BacktestStats, replay: Path, out: Path
) -> tuple[list[str], list[str]]:
    """PNG, HTML and JSON into ``out``; returns (paths written, notes on what was skipped)."""
    from core.analysis.backtest.plots import PlotUnavailable, save_html, save_png

    stem = replay.name.split(".")[0]
    title = f"arbtui backtest: {replay.name} ({run.settings.source})"
    files, notes = [], []
    try:
        files.append(str(save_png(run.curve, out / f"{stem}_equity.png", title)))
    except PlotUnavailable as exc:
        notes.append(f"PNG skipped: {exc}")
    page, note = save_html(
        run.curve, stats, summary_rows(stats), out / f"{stem}_equity.html", title
    )
    files.append(str(page))
    if note:
        notes.append(f"HTML written without the chart: {note}")
    path = out / f"{stem}_stats.json"
    path.write_text(json.dumps(stats_json(run, stats), indent=1), encoding="utf-8")
    files.append(str(path))
    return files, notes


def stats_json(
    run: BacktestRun, stats: BacktestStats, include_curve: bool = True
) -> dict[str, Any]:
    """Every figure as JSON-ready values (times in UTC ms)."""
    out: dict[str, Any] = {
        "source": run.settings.source,
        "start_ts_ms": stats.start_ts_ms,
        "end_ts_ms": stats.end_ts_ms,
        "duration_days": stats.duration_days,
        "equity_start_usd": stats.equity_start_usd,
        "equity_end_usd": stats.equity_end_usd,
        **stats.row(),
        "per_venue": [asdict(v) | {"total_usd": v.total_usd} for v in stats.per_venue],
        "round_trip_list": [asdict(t) | {"pnl_usd": t.pnl_usd} for t in stats.round_trips],
        "fills_by_purpose": stats.fills_by_purpose,
        "final_trading_state": stats.final_trading_state,
        "events": stats.events,
        "wall_s": stats.wall_s,
    }
    if include_curve:
        out["curve"] = [
            {"ts_ms": ts, "strategy_equity_usd": s, "account_equity_usd": a}
            for ts, s, a in run.curve
        ]
    return out


def _iso(ts_ms: int | None) -> str:
    if ts_ms is None:
        return "open"
    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _f(value: float | None, fmt: str = ",.2f", unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{fmt}}{unit}"


def summary_rows(stats: BacktestStats) -> list[tuple[str, str]]:
    """(label, value) pairs of the headline figures (text and HTML output)."""
    c = stats.curve
    rows = [
        (
            "window (UTC)",
            f"{_iso(stats.start_ts_ms)} -> {_iso(stats.end_ts_ms)} "
            f"({stats.duration_days:.1f} days)",
        ),
        (
            "return",
            f"{_f(c.return_pct, '.2f', ' %')} (annualised {_f(c.annual_return_pct, '.2f', ' %')})",
        ),
        ("sharpe / sortino", f"{_f(c.sharpe)} / {_f(c.sortino)}"),
        (
            "max drawdown",
            f"{c.max_drawdown_pct:.2f} % lasting {c.max_drawdown_duration_h:.1f} h "
            f"(account, every event: {stats.account_max_drawdown_pct:.2f} %)",
        ),
        (
            "round trips",
            f"{len(stats.closed)} closed, {len(stats.round_trips) - len(stats.closed)} "
            f"open; win rate {_f(stats.win_rate_pct, '.1f', ' %')}; "
            f"exposure {stats.exposure_pct:.1f} %",
        ),
        (
            "PnL USD",
            f"basis {stats.basis_usd:,.2f}  funding {stats.funding_usd:,.2f}  "
            f"fees {stats.fees_usd:,.2f}  total {stats.total_pnl_usd:,.2f}",
        ),
    ]
    for v in stats.per_venue:
        rows.append(
            (f"  {v.venue}", f"basis {v.basis_usd:,.2f}  funding "
             f"{v.funding_received_usd + v.funding_paid_usd:,.2f} (+{v.funding_received_usd:,.2f}"
             f" / {v.funding_paid_usd:,.2f})  fees {v.fees_usd:,.2f}  total {v.total_usd:,.2f}")
        )  # fmt: skip
    acc_ret = stats.row()["account_return_pct"]
    rows.append(
        ("account equity", f"{stats.account_equity_start_usd:,.2f} -> "
         f"{stats.account_equity_end_usd:,.2f} USD ({_f(acc_ret, '.2f', ' %')}, any coin "
         "collateral at its mark)")
    )  # fmt: skip
    purposes = ", ".join(f"{k} {n}" for k, n in stats.fills_by_purpose.items())
    rows.append(("fills", f"{stats.fills} ({purposes or 'none'})"))
    rows.append(("final state", stats.final_trading_state))
    return rows


def sparkline(values: list[float], width: int = 60, *, worst: bool = False) -> str:
    """``values`` as one line of block characters, ``width`` wide (each column the last value
    of its bucket, or the largest with ``worst``)."""
    if not values:
        return ""
    n = min(width, len(values))
    cols = []
    for i in range(n):
        bucket = values[i * len(values) // n : (i + 1) * len(values) // n] or [values[-1]]
        cols.append(max(bucket) if worst else bucket[-1])
    lo, hi = min(cols), max(cols)
    span = hi - lo
    return "".join(
        BLOCKS[0 if span == 0 else round((v - lo) / span * (len(BLOCKS) - 1))] for v in cols
    )


def format_stats(run: BacktestRun, stats: BacktestStats, replay: str) -> str:
    """The text output of ``arbtui backtest``: the figures (a ``rich.table`` grid of label and
    value), the equity and drawdown sparklines, and the round trips as a table."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(min_width=LABEL_WIDTH, no_wrap=True)
    grid.add_column()
    grid.add_row("backtest", replay)
    grid.add_row("config", run.settings.source)
    grid.add_row(
        "events",
        f"{stats.events:,} in {stats.wall_s:.2f} s "
        f"({stats.events / stats.wall_s if stats.wall_s else 0:,.0f} events/s)",
    )
    for label, value in summary_rows(stats):
        grid.add_row(label, value)
    curve: list[CurvePoint] = run.curve
    equity = [s for _, s, _ in curve]
    if equity:
        dd = drawdown_pct(equity)
        grid.add_row("equity", f"{sparkline(equity)}  {min(equity):,.0f} .. {max(equity):,.0f}")
        grid.add_row("drawdown", f"{sparkline(dd, worst=True)}  0 .. {max(dd):.2f} %")
    parts = [render(grid), "round trips:"]
    if stats.round_trips:
        parts.append(render(Padding(round_trip_table(stats), (0, 0, 0, 2))))
    alerts = run.report.get("alerts") or []
    if alerts:
        parts.append(f"{'alerts':<{LABEL_WIDTH}} {len(alerts)} (last: {alerts[-1]})")
    return "\n".join(parts)


def round_trip_table(stats: BacktestStats) -> Table:
    """One row a round trip: pair, direction, entry and exit (UTC), adds, PnL and its parts."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("pair")
    table.add_column("direction")
    table.add_column("entry")
    table.add_column("exit")
    for head in ("adds", "PnL", "basis", "funding", "fees"):
        table.add_column(head, justify="right")
    for t in stats.round_trips:
        table.add_row(
            t.pair,
            "short a / long b" if t.direction > 0 else "long a / short b",
            _iso(t.entry_ts_ms),
            _iso(t.exit_ts_ms),
            str(len(t.add_ts_ms)),
            f"{t.pnl_usd:,.2f}",
            f"{t.basis_usd:,.2f}",
            f"{t.funding_usd:,.2f}",
            f"{t.fees_usd:,.2f}",
        )
    return table
