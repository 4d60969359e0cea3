"""Market state per instrument: latest prices, funding (settled and seen ahead kept apart),
next settlement time, and an hourly price history for realised volatility.

Prices on this path are floats (market data); ``mark_decimal`` gives the Decimal that money
arithmetic uses. Funding ``rate_per_hour`` divides a rate by the interval it covers (HAZARDS
H1): 0.0001 per 4 h is 0.000025 per hour and beats 0.00015 per 8 h (0.00001875 per hour).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from core.domain.events import Bar, FundingRate, FundingSettled, Quote

HOUR_MS = 3_600_000
HOURS_PER_YEAR = 24 * 365


@dataclass(slots=True, eq=False)
class InstrumentState:
    """What is known about one instrument now. One object per instrument, kept and updated
    by :class:`MarketState`: compared and hashed by identity."""

    venue: str
    symbol: str
    mark: float | None = None
    """The venue's mark price when a feed sends one; until then the book mid or the last
    bar's close stands in (see :meth:`MarketState.apply`)."""
    mark_decimal: Decimal | None = None
    venue_mark: bool = False
    """True once the venue's own mark price arrived: from then on a book mid never replaces
    it (a mark flipping between mark and mid would move PnL, funding and signals)."""
    bid: float | None = None
    ask: float | None = None
    last_ts_ms: int | None = None
    settled_rate: Decimal | None = None
    settled_ts_ms: int | None = None
    interval_ms: int | None = None
    ahead: dict[int, tuple[Decimal, bool, int]] = field(default_factory=dict)
    """Rates seen before their settlement: settlement_ts_ms -> (rate, fixed, interval_ms).
    BitMEX publishes the fixed rate of the next settlement and an estimate of the one after
    at once; both are kept, each under its own settlement."""
    hourly_closes: deque[float] = field(default_factory=lambda: deque(maxlen=24 * 14 + 1))
    _last_hour: int = -1

    def next_settlement_ts_ms(self) -> int | None:
        """The next settlement instant: from the rate seen ahead, else last + interval."""
        if self.ahead:
            return min(self.ahead)
        if self.settled_ts_ms is not None and self.interval_ms:
            return self.settled_ts_ms + self.interval_ms
        return None

    def next_rate(self) -> tuple[Decimal | None, str, int | None]:
        """(rate, kind, interval_ms) for the next settlement. kind is ``"fixed"``,
        ``"estimate"`` or ``"last"`` (no forecast: the last settled rate stands in)."""
        if self.ahead:
            rate, fixed, interval_ms = self.ahead[min(self.ahead)]
            return rate, "fixed" if fixed else "estimate", interval_ms
        return self.settled_rate, "last", self.interval_ms

    def rate_per_hour(self) -> float | None:
        """The next rate divided by its interval in hours (fraction per hour)."""
        rate, _, interval_ms = self.next_rate()
        if rate is None or not interval_ms:
            return None
        return float(rate) * HOUR_MS / interval_ms

    def realised_vol(self, lookback_hours: int) -> float | None:
        """Annualised stdev of hourly log returns over ``lookback_hours`` (fraction), or None
        with fewer than 3 returns."""
        closes = list(self.hourly_closes)[-(lookback_hours + 1) :]
        if len(closes) < 4:
            return None
        rets = [math.log(b / a) for a, b in itertools.pairwise(closes)]
        mean = sum(rets) / len(rets)
        var = sum((r - mean) ** 2 for r in rets) / (len(rets) - 1)
        return math.sqrt(var * HOURS_PER_YEAR)


class MarketState:
    """All instruments' states, updated by :meth:`apply` for every event."""

    def __init__(self) -> None:
        self.instruments: dict[tuple[str, str], InstrumentState] = {}
        self.ts_ms = 0
        self.unlisted: dict[tuple[str, str], int] = {}
        """Events applied so far per instrument outside the list given to
        :meth:`count_unlisted` (none counted without one)."""
        self._listed: frozenset[tuple[str, str]] | None = None
        # what apply() looks an instrument up in: every instrument, or (once a list is given)
        # the listed ones only, so that an unlisted one's events take the slow path and are
        # counted there, at no cost to the others'
        self._fast = self.instruments

    def count_unlisted(self, listed: Iterable[tuple[str, str]]) -> None:
        """From now on count in :attr:`unlisted` the events of every instrument not in
        ``listed`` (a replay's instruments that no configured instrument is: ignored by every
        pair). Their states are kept in :attr:`instruments` all the same."""
        self._listed = frozenset(listed)
        self._fast = {k: st for k, st in self.instruments.items() if k in self._listed}

    def get(self, venue: str, symbol: str) -> InstrumentState:
        """The state of ``venue``/``symbol``, created empty on first use."""
        key = (venue, symbol)
        st = self.instruments.get(key)
        if st is None:
            st = self.instruments[key] = InstrumentState(venue, symbol)
            if self._listed is not None and key in self._listed:
                self._fast[key] = st
        return st

    def _first(self, venue: str, symbol: str) -> InstrumentState:
        """:meth:`get` for :meth:`apply` when its fast lookup missed: a first event, or one
        of an unlisted instrument (counted)."""
        st = self.get(venue, symbol)
        if self._listed is not None and (venue, symbol) not in self._listed:
            self.unlisted[venue, symbol] = self.unlisted.get((venue, symbol), 0) + 1
        return st

    def apply(self, ev: Bar | Quote | FundingSettled | FundingRate) -> InstrumentState:
        """Update from one event and return the instrument's state."""
        self.ts_ms = ev.ts_ms
        st = self._fast.get((ev.venue, ev.symbol))  # get() inlined: most calls find it
        if st is None:
            st = self._first(ev.venue, ev.symbol)
        if type(ev) is Bar:  # type() is: cheaper than isinstance, on every event
            px: float | None = ev.close
        elif type(ev) is Quote:
            if ev.bid is not None:
                st.bid = ev.bid
            if ev.ask is not None:
                st.ask = ev.ask
            px = ev.mark
            if px is not None:
                st.venue_mark = True
            elif not st.venue_mark and ev.bid is not None and ev.ask is not None:
                px = (ev.bid + ev.ask) / 2
        elif type(ev) is FundingSettled:
            st.settled_rate = ev.rate
            st.settled_ts_ms = ev.settlement_ts_ms if ev.settlement_ts_ms is not None else ev.ts_ms
            st.interval_ms = ev.interval_ms
            for due in [t for t in st.ahead if t <= ev.ts_ms]:
                del st.ahead[due]
            return st
        else:  # a rate seen ahead (FundingRate)
            if isinstance(ev, FundingRate):  # always: narrows the type for the checker
                known = st.ahead.get(ev.settlement_ts_ms)
                # an estimate never replaces a fixed rate
                if known is None or ev.fixed or not known[1]:
                    st.ahead[ev.settlement_ts_ms] = (ev.rate, ev.fixed, ev.interval_ms)
            return st
        if px is not None:  # a new price: the mark, and the hour's close for the volatility
            st.mark = px
            st.mark_decimal = None
            ts_ms = ev.ts_ms
            st.last_ts_ms = ts_ms
            hour = ts_ms // HOUR_MS
            if hour != st._last_hour:
                if st._last_hour >= 0:
                    st.hourly_closes.append(px)
                st._last_hour = hour
        return st


def mark_decimal(st: InstrumentState) -> Decimal:
    """The mark as a Decimal (cached until the next price). Raises ValueError if no price."""
    if st.mark_decimal is None:
        if st.mark is None:
            raise ValueError(f"{st.venue} {st.symbol}: no price yet")
        st.mark_decimal = Decimal(repr(st.mark))
    return st.mark_decimal
