"""The engine's bounded hourly history, for the console's charts.

:class:`History` takes one point per hour of engine time (the first instant of each hour, after
it is applied): each charted instrument's funding rate per hour, the first pair's spread, the
equity and the drawdown. It keeps at most :data:`HISTORY_HOURS` points (a deque), so memory
stays flat however long a paper session runs. The host calls :meth:`History.after` after every
instant (a comparison, no work, until the hour turns) and hands :meth:`History.view` (a frozen
view, rebuilt only when a point was added) to the snapshot. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.domain.events import Event
from core.domain.market import HOUR_MS, HOURS_PER_YEAR
from core.domain.snapshot import HistoryView

if TYPE_CHECKING:
    from core.engine.engine import Engine

HISTORY_HOURS = 24 * 92
"""Points kept: about three months of hours (a month of paper trading fits with room)."""


@dataclass(frozen=True, slots=True)
class HourPoint:
    """One hour: its first instant, rates per hour (one per charted instrument), the spread,
    equity (USD) and drawdown (% from the peak)."""

    ts_ms: int
    rates: tuple[float | None, ...]
    spread: float | None
    equity_usd: float
    drawdown_pct: float


class History:
    """Hourly points of ``engine`` (see the module docstring)."""

    def __init__(self, engine: Engine, maxlen: int = HISTORY_HOURS) -> None:
        self.engine = engine
        self.points: deque[HourPoint] = deque(maxlen=maxlen)
        keys = []
        for pr in engine.pairs:
            for key in (pr.key_a, pr.key_b):
                if key not in keys:
                    keys.append(key)
        self.keys = tuple(keys)
        """The charted instruments: the legs of the configured pairs, in order."""
        self._next_ms = 0
        self._view: HistoryView | None = None

    def after(self, ev: Event) -> None:
        """Called after each applied instant (``ev``: one of its events): take a point when
        the engine's hour turns."""
        if ev.ts_ms >= self._next_ms:
            self.sample()

    def sample(self) -> None:
        """Take this hour's point now (at most one per hour of engine time)."""
        eng = self.engine
        now = eng.now
        if now < self._next_ms or now <= 0 or eng.start_equity_usd is None:
            return  # (no equity reading yet: a coin balance not valued until its first mark)
        self._next_ms = (now // HOUR_MS + 1) * HOUR_MS
        market = eng.market.instruments
        rates = tuple(
            (st.rate_per_hour() if (st := market.get(key)) is not None else None)
            for key in self.keys
        )
        spread = None
        if eng.pairs:
            pr = eng.pairs[0]
            r = pr.signal.last
            d = pr.direction if pr.status != "flat" else r.direction
            spread = r.spread_per_hour
            if spread is not None and d:
                spread *= d
        self.points.append(HourPoint(now, rates, spread, eng.equity_usd, eng.dd.drawdown_pct))
        self._view = None

    def view(self) -> HistoryView:
        """The points as a frozen view (the same object until a point is added)."""
        if self._view is None:
            eng = self.engine
            strategy = eng.settings.strategy
            entry = exit_ = None
            if eng.pairs:
                fees = eng.pairs[0].signal.round_trip_fees
                entry = (strategy.entry_edge_pct / 100 + fees) / strategy.holding_hours
                exit_ = strategy.exit_apr_pct / 100 / HOURS_PER_YEAR
            pts = list(self.points)
            self._view = HistoryView(
                tuple(p.ts_ms for p in pts),
                tuple(
                    (f"{venue} {symbol}", tuple(p.rates[i] for p in pts))
                    for i, (venue, symbol) in enumerate(self.keys)
                ),
                tuple(p.spread for p in pts),
                entry,
                exit_,
                tuple(p.equity_usd for p in pts),
                tuple(p.drawdown_pct for p in pts),
                eng.dd.limit_pct,
                eng.pairs[0].cfg.name if len(eng.pairs) > 1 else "",
            )
        return self._view
