"""How large a funding rate may be: the plausibility bound and a venue's cap on one symbol.

One rule for every reader of rates: ``arbtui import`` (``core.analysis.importer.funding``) and
the replay readers (``core.analysis.replay``, JSON lines and columnar) both ask
:func:`implausible_rate` and :meth:`FundingCap.breach`. The caps themselves are venue data
(each venue's ``history.CAPS``, collected by :func:`core.venues.history.funding_caps`); this
module names no venue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import attrgetter

from core.domain import timeutil
from core.domain.events import FundingRate, FundingSettled

#: No funding rate reaches 100 % of the notional a settlement: |rate| >= 1 is a unit error.
MAX_ABS_RATE = Decimal(1)


def implausible_rate(rate: Decimal, text: str) -> str | None:
    """Why ``rate`` (written ``text``) is no funding rate at all (|rate| >= 1), or None."""
    if abs(rate) >= MAX_ABS_RATE:
        return f"{text!r} is not a plausible funding rate"
    return None


@dataclass(frozen=True)
class FundingCap:
    """A venue's ± limit on one symbol's funding rate: ``cap`` (a fraction) per settlement of
    an ``interval_ms`` interval, and where that figure comes from. A longer interval scales
    it (BitMEX's daily settlements of 2016 were capped at three times its 8 h cap); a shorter
    one does not (Binance keeps a symbol's cap when it moves it to 4 h or 1 h)."""

    symbol: str
    cap: Decimal
    interval_ms: int
    source: str

    def limit(self, interval_ms: int | None) -> Decimal:
        """The largest |rate| a settlement of ``interval_ms`` may have."""
        if interval_ms is None or interval_ms <= self.interval_ms:
            return self.cap
        return self.cap * interval_ms / self.interval_ms

    def breach(self, venue: str, rate: Decimal, text: str, interval_ms: int | None) -> str | None:
        """Why ``rate`` (written ``text``) of a ``venue`` settlement over ``interval_ms``
        (None: the cap's own) is beyond this cap, naming the cap and its source; None when
        it is within."""
        limit = self.limit(interval_ms)
        if abs(rate) <= limit:
            return None
        hours = (interval_ms or self.interval_ms) // timeutil.HOUR_MS
        return (
            f"rate {text} is beyond the {venue} {self.symbol} cap of +-{limit.normalize()} per "
            f"{hours} h settlement ({self.source}): a rate written in percent without its % sign?"
        )


Caps = Mapping[tuple[str, str], FundingCap]
"""Known caps by (venue, symbol) (:func:`core.venues.history.funding_caps`)."""


def cap_floor(caps: Caps) -> Decimal:
    """The smallest |rate| any of ``caps`` may refuse: a block of rates all within it needs
    no look at each (a longer interval only raises a cap)."""
    return min((c.cap for c in caps.values()), default=MAX_ABS_RATE)


def first_rate_fault(
    events: Sequence[FundingSettled | FundingRate], caps: Caps, floor: Decimal
) -> tuple[int, str] | None:
    """The index in ``events`` of the first rate that :func:`implausible_rate` or its
    ``caps`` entry (:meth:`FundingCap.breach`) refuses, and why; None when all are fine.
    ``floor`` is :func:`cap_floor` of ``caps``: when the largest |rate| lies within it (the
    common case) that one C-level ``max`` is the whole check."""
    top = max(map(abs, map(_rate_of, events)), default=Decimal(0))
    if top < MAX_ABS_RATE and top <= floor:
        return None
    for i, ev in enumerate(events):
        text = str(ev.rate)
        why = implausible_rate(ev.rate, text)
        if why is None:
            cap = caps.get((ev.venue, ev.symbol))
            why = cap.breach(ev.venue, ev.rate, text, ev.interval_ms) if cap else None
        if why is not None:
            return i, why
    return None


def first_funding_fault(
    events: Sequence[FundingSettled | FundingRate], caps: Caps, floor: Decimal
) -> tuple[int, str] | None:
    """The index in ``events`` of the first settlement or rate a replay reader refuses, and
    why as ``field X: why``: its ``rate`` (:func:`first_rate_fault`) or its
    ``settlement_ts_ms`` outside the sane range (:func:`core.domain.timeutil.check_range_ms`,
    the check every ``ts_ms`` gets; HAZARDS H3: a settlement instant in seconds or
    microseconds would put the rate on a settlement that never comes). None when all are
    fine."""
    faults = []
    rate = first_rate_fault(events, caps, floor)
    if rate is not None:
        faults.append((rate[0], f"field rate: {rate[1]}"))
    for i, ev in enumerate(events):
        if ev.settlement_ts_ms is not None:
            try:
                timeutil.check_range_ms(ev.settlement_ts_ms)
            except ValueError as exc:
                faults.append((i, f"field settlement_ts_ms: {exc}"))
                break
    return min(faults, default=None)


_rate_of = attrgetter("rate")
