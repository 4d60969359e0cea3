"""The scanner's universe: one :class:`Perp` per perpetual a venue lists, the settled-rate
history of one perpetual (:class:`SettledHistory`) and the cross-venue match (:func:`match`).

Pure values, no I/O: each venue's package reads its REST endpoints into these
(``core/venues/<venue>/universe.py``); the ranking is :mod:`core.domain.scan`.

Units: rates are fractions per settlement of the perpetual's own interval (0.0001 = 0.01 %
per ``interval_h`` hours; positive = longs pay shorts); prices are in the quote currency per
``multiplier`` units of the base asset (Binance ``1000PEPEUSDT`` quotes 1,000 PEPE: multiplier
1000); volumes and open interest in USD (USDT and USDC taken at par). Market data is float
(docs/STYLE: money that changes hands is Decimal; this is a view, nothing is traded from it).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate
from typing import Literal

Kind = Literal["linear", "inverse"]

_MULT_RE = re.compile(r"^(1000000|100000|10000|1000|1M)(?=[A-Z])|(?<=[A-Z])(1000000|10000|1000)$")


def split_multiplier(base: str) -> tuple[str, int]:
    """A venue's base coin -> (asset, units of the asset per quoted unit).

    ``1000PEPE`` -> (``PEPE``, 1000); ``SHIB1000`` -> (``SHIB``, 1000); ``1MBABYDOGE`` ->
    (``BABYDOGE``, 1,000,000); ``BTC`` -> (``BTC``, 1). Matching by the bare asset is what lets
    one venue's ``1000SHIB`` meet another's ``SHIB1000``; prices are compared per unit of the
    asset (mark / multiplier)."""
    m = _MULT_RE.search(base)
    if m is None or len(base) <= len(m.group(0)):
        return base, 1
    text = m.group(0)
    mult = 1_000_000 if text == "1M" else int(text)
    return base[: m.start()] + base[m.end() :], mult


@dataclass(frozen=True, slots=True)
class Perp:
    """One perpetual on one venue, as its REST endpoints describe it now.

    ``next_rate`` is the venue's estimate for the settlement at ``next_funding_ms`` (Binance
    ``premiumIndex.lastFundingRate``, Bybit ``tickers.fundingRate``): never a settled rate.
    ``cap``/``floor``: the funding limits (fractions per interval; None = the venue does not
    publish one for this symbol). ``tick`` (price step), ``lot`` (quantity step),
    ``min_qty`` and ``min_notional`` (quote currency) are the venue's own values and units
    (linear: quantity in the base coin; inverse: contracts of ``contract_usd`` USD).
    ``taker_fee`` is a fraction. ``volume_24h_usd`` and ``open_interest_usd`` are None when
    the venue does not give them in its universe endpoints (Binance serves open interest per
    symbol only: the scanner reads it apart, :class:`OpenInterest`).
    """

    venue: str
    symbol: str
    base: str
    """The venue's base coin (``1000PEPE``); :attr:`asset` and :attr:`multiplier` split it."""
    quote: str
    settle: str
    kind: Kind
    mark: float
    index: float | None
    next_rate: float
    next_funding_ms: int | None
    interval_h: float
    cap: float | None = None
    floor: float | None = None
    tick: Decimal = Decimal(0)
    lot: Decimal = Decimal(0)
    min_qty: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    taker_fee: float = 0.0
    volume_24h_usd: float | None = None
    open_interest_usd: float | None = None
    contract_usd: float = 1.0
    """Inverse only: USD per contract (1 for Bybit BTCUSD)."""
    asset: str = field(default="", compare=False)
    multiplier: int = field(default=1, compare=False)

    def __post_init__(self) -> None:
        if not self.asset:
            asset, mult = split_multiplier(self.base)
            object.__setattr__(self, "asset", asset)
            object.__setattr__(self, "multiplier", mult)

    @property
    def key(self) -> tuple[str, str]:
        """(venue, symbol)."""
        return (self.venue, self.symbol)

    @property
    def rate_per_hour(self) -> float:
        """:attr:`next_rate` / :attr:`interval_h` (fraction per hour)."""
        return self.next_rate / self.interval_h

    @property
    def unit_price(self) -> float:
        """Mark per one unit of the asset (:attr:`mark` / :attr:`multiplier`)."""
        return self.mark / self.multiplier

    def at_cap(self, tolerance: float = 1e-9) -> bool:
        """True when :attr:`next_rate` sits at its cap or floor (within ``tolerance``)."""
        r = self.next_rate
        return (self.cap is not None and r >= self.cap - tolerance) or (
            self.floor is not None and r <= self.floor + tolerance
        )


@dataclass(frozen=True, slots=True)
class OpenInterest:
    """A perpetual's open interest read apart from its quotes (a venue that serves it per
    symbol only: Binance USD-M ``GET /fapi/v1/openInterest``).

    ``contracts``: in the perpetual's contracts (None: unknown, ``note`` says why: ``not read
    yet``, the error of the last read); ``at_ms``: the venue's time of the figure (its age is
    now minus this; None when unknown). USD: :func:`open_interest_usd` at the current mark."""

    contracts: float | None
    at_ms: int | None = None
    note: str = ""


def open_interest_usd(p: Perp, contracts: float) -> float:
    """Open interest in ``p``'s contracts -> USD at its mark (USDT/USDC at par).

    Linear: ``contracts`` are units of the quoted base (Binance USD-M ``openInterest``, "in
    base asset"; ``1000PEPEUSDT`` counts lots of 1,000 PEPE, quoted per lot), so USD =
    contracts x :attr:`Perp.mark`. Inverse: contracts x :attr:`Perp.contract_usd`."""
    if p.kind == "inverse":
        return contracts * p.contract_usd
    return contracts * p.mark


class SettledHistory:
    """Settled rates of one perpetual, ascending by settlement time, with prefix sums so that
    the sum over any time window is two bisections (the scanner's 1/3/7-day averages).

    ``rows``: (settlement ms, rate per settlement) in any order; duplicates of one instant
    keep the last."""

    __slots__ = ("_sums", "rates", "times")

    def __init__(self, rows: Iterable[tuple[int, float]]) -> None:
        merged = dict(rows)
        self.times: list[int] = sorted(merged)
        self.rates: list[float] = [merged[t] for t in self.times]
        self._sums: list[float] = [0.0, *accumulate(self.rates)]

    def __len__(self) -> int:
        return len(self.times)

    @property
    def last(self) -> tuple[int, float] | None:
        """The latest (settlement ms, rate), or None when empty."""
        return (self.times[-1], self.rates[-1]) if self.times else None

    def covers(self, start_ms: int, interval_ms: int) -> bool:
        """True when the history reaches back to the first settlement after ``start_ms``
        (its first row is at most one interval after it)."""
        return bool(self.times) and self.times[0] <= start_ms + interval_ms

    def window_sum(self, start_ms: int, end_ms: int) -> float:
        """Sum of the rates settled in (``start_ms``, ``end_ms``]."""
        lo = bisect.bisect_right(self.times, start_ms)
        hi = bisect.bisect_right(self.times, end_ms)
        return self._sums[hi] - self._sums[lo]


EMPTY_HISTORY = SettledHistory(())


def match(perps: Iterable[Perp]) -> list[tuple[Perp, Perp]]:
    """Every pair of perpetuals of the same asset on two different venues (linear with
    linear, linear with inverse, inverse with inverse), each pair once, ordered by (asset,
    venue, symbol) of its first and second member."""
    by_asset: dict[str, list[Perp]] = {}
    for p in perps:
        by_asset.setdefault(p.asset, []).append(p)
    out: list[tuple[Perp, Perp]] = []
    for asset in sorted(by_asset):
        group = sorted(by_asset[asset], key=lambda p: p.key)
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if a.venue != b.venue:
                    out.append((a, b))
    return out
