"""Equity-curve arithmetic, one definition for every report: daily returns, Sharpe and
Sortino ratios, drawdown.

A curve is a time-ordered list of ``(ts_ms, equity_usd)`` points (hourly in the engine).
Daily returns use the last value of each UTC day; ratios are annualised with sqrt(365) (crypto
trades every day) and a risk-free rate of 0; None when there are fewer than two returns or no
spread.
"""

from __future__ import annotations

import itertools
import math

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

Curve = list[tuple[int, float]]


def daily_values(points: Curve) -> list[float]:
    """The last value of each UTC day, in day order."""
    daily: dict[int, float] = {}
    for ts, v in points:
        daily[ts // DAY_MS] = v
    return [daily[d] for d in sorted(daily)]


def daily_returns(points: Curve) -> list[float]:
    """Day-over-day simple returns of :func:`daily_values` (days from a value <= 0 skipped)."""
    return [b / a - 1 for a, b in itertools.pairwise(daily_values(points)) if a > 0]


def sharpe_ratio(rets: list[float]) -> float | None:
    """Annualised Sharpe ratio of daily returns ``rets`` (risk-free 0, sample variance)."""
    if len(rets) < 2:
        return None
    mean = sum(rets) / len(rets)
    var = sum((r - mean) ** 2 for r in rets) / (len(rets) - 1)
    return mean / math.sqrt(var) * math.sqrt(365) if var > 0 else None


def sortino_ratio(rets: list[float]) -> float | None:
    """Annualised Sortino ratio of daily returns (downside deviation about 0)."""
    if len(rets) < 2:
        return None
    mean = sum(rets) / len(rets)
    down = math.sqrt(sum(min(r, 0.0) ** 2 for r in rets) / len(rets))
    return mean / down * math.sqrt(365) if down > 0 else None


def drawdown_pct(values: list[float]) -> list[float]:
    """Fall from the running peak at each point, % of the peak (>= 0)."""
    out = []
    peak = -math.inf
    for v in values:
        peak = max(peak, v)
        out.append((peak - v) / peak * 100 if peak > 0 else 0.0)
    return out


def max_drawdown(points: Curve) -> tuple[float, float]:
    """(max drawdown %, longest drawdown in hours) of a time-ordered curve."""
    worst = 0.0
    longest_ms = 0
    peak = -math.inf
    peak_ts = points[0][0] if points else 0
    for ts, v in points:
        if v >= peak:
            longest_ms = max(longest_ms, ts - peak_ts)
            peak, peak_ts = v, ts
        elif peak > 0:
            worst = max(worst, (peak - v) / peak * 100)
    if points:
        longest_ms = max(longest_ms, points[-1][0] - peak_ts)
    return worst, longest_ms / HOUR_MS
