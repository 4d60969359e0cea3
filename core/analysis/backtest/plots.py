"""Equity and drawdown charts of a backtest: a PNG and a self-contained HTML page.

Drawn with matplotlib (optional extra ``arbtui[plot]``) through its object API and the Agg
renderer, never ``pyplot``, so no window, display or global backend state is touched. The HTML
page inlines the chart as SVG next to the statistics and round trips: it opens offline.
Without matplotlib, :func:`save_plots` raises :class:`PlotUnavailable` with the install hint,
and :func:`save_html` still writes the page with the tables and no chart.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from pathlib import Path
from typing import Any

from core.analysis.backtest.runner import CurvePoint
from core.analysis.backtest.stats import BacktestStats
from core.domain.equity import drawdown_pct
from core.domain.errors import ArbtuiError

INSTALL_HINT = "pip install 'arbtui[plot]' (matplotlib)"


class PlotUnavailable(ArbtuiError, RuntimeError):
    """matplotlib is not installed."""


def _utc(ts_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC)


def _figure(curve: list[CurvePoint], title: str) -> Any:
    try:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotUnavailable(f"plots need matplotlib: {INSTALL_HINT}") from None
    times = [_utc(ts) for ts, _, _ in curve]
    strat = [s for _, s, _ in curve]
    account = [a for _, _, a in curve]
    fig = Figure(figsize=(11, 6.5), layout="constrained")
    ax_eq, ax_dd = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1.3))
    ax_eq.plot(times, strat, color="#1f77b4", lw=1.4, label="strategy equity (PnL basis)")
    ax_eq.plot(times, account, color="#999999", lw=0.9, ls="--", label="account equity")
    ax_eq.set_ylabel("USD")
    ax_eq.set_title(title, loc="left", fontsize=11)
    ax_eq.legend(loc="upper left", fontsize=8)
    ax_eq.grid(alpha=0.3)
    dd = [-d for d in drawdown_pct(strat)]
    ax_dd.fill_between(times, dd, 0, color="#d62728", alpha=0.35, lw=0)
    ax_dd.plot(times, dd, color="#d62728", lw=0.8)
    ax_dd.set_ylabel("drawdown %")
    ax_dd.grid(alpha=0.3)
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax_dd.xaxis.set_major_locator(locator)
    ax_dd.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=dt.UTC))  # type: ignore[no-untyped-call]
    ax_dd.set_xlabel("UTC")
    return fig


def save_png(curve: list[CurvePoint], path: Path, title: str) -> Path:
    """Equity (top) and drawdown (bottom) as a PNG; raises :class:`PlotUnavailable`."""
    fig = _figure(curve, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def svg(curve: list[CurvePoint], title: str) -> str:
    """The same chart as SVG text; raises :class:`PlotUnavailable`."""
    buf = io.StringIO()
    _figure(curve, title).savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.find("<svg") :]


def save_html(
    curve: list[CurvePoint],
    stats: BacktestStats,
    summary: list[tuple[str, str]],
    path: Path,
    title: str,
) -> tuple[Path, str | None]:
    """A self-contained page: the chart (inline SVG), the summary and the round trips.

    Returns (path, note): note says why the chart is missing, else None."""
    note = None
    try:
        chart = svg(curve, title)
    except PlotUnavailable as exc:
        chart, note = f"<p><em>{html.escape(str(exc))}</em></p>", str(exc)
    rows = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in summary
    )
    trips = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(c)}</td>"
            for c in (
                t.pair,
                "short a / long b" if t.direction > 0 else "long a / short b",
                _utc(t.entry_ts_ms).strftime("%Y-%m-%d %H:%M:%S"),
                _utc(t.exit_ts_ms).strftime("%Y-%m-%d %H:%M:%S") if t.exit_ts_ms else "open",
                str(len(t.add_ts_ms)),
                f"{t.basis_usd:,.2f}",
                f"{t.funding_usd:,.2f}",
                f"{t.fees_usd:,.2f}",
                f"{t.pnl_usd:,.2f}",
            )
        )
        + "</tr>"
        for t in stats.round_trips
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }}
th {{ background: #f4f4f4; text-align: left; }}
svg {{ max-width: 100%; height: auto; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
{chart}
<h2>Statistics</h2>
<table>{rows}</table>
<h2>Round trips</h2>
<table><tr><th>pair</th><th>direction</th><th>entry (UTC)</th><th>exit (UTC)</th>
<th>adds</th><th>basis USD</th><th>funding USD</th><th>fees USD</th><th>PnL USD</th></tr>
{trips}</table>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path, note
