"""The funding scanner's ranking: every matched pair of perpetuals on two venues, with what a
desk would earn holding it, ranked by net carry. Pure arithmetic, no I/O, no clock (``now_ms``
is given).

For a pair (a, b), each rate is first normalised by its own interval (HAZARDS H1: 0.0001 per
4 h = 0.000025 per hour beats 0.00015 per 8 h = 0.00001875 per hour); the **short** leg is the
one with the higher rate per hour, the **long** leg the lower. With ``H`` = the horizon in
hours and every figure a fraction of the notional of one leg (the same definition as the
pair signal, :mod:`core.domain.signal`):

    spread per hour = short rate / short interval_h - long rate / long interval_h   (>= 0)
    spread APR      = spread per hour x 8760
    basis paid      = (long unit price - short unit price) / mid    (negative = a gain)
    round-trip fees = 2 x (short taker + long taker)    (open and close both legs, taker)
    net carry       = spread per hour x H - round-trip fees - basis paid
    net APR         = net carry / H x 8760

Rates: the **next** figures use each venue's estimate for its next settlement (Binance
``premiumIndex.lastFundingRate``, Bybit ``tickers.fundingRate``); the **settled** figures use
the last row of each venue's settled history (Binance ``GET /fapi/v1/fundingRate``, Bybit
``GET /v5/market/funding/history``). The two are never mixed. Persistence: the spread averaged
over the last 1, 3 and 7 days (``windows_days``), per hour of holding: the rates each venue
settled in (now - D days, now], summed and divided by D x 24, short minus long (the current
direction); None where a venue's history does not reach back that far.

Open interest: each leg's figure in USD is its perpetual's own (venues that give it with the
quotes) or, for a venue that serves it per symbol, the :class:`~core.domain.universe.OpenInterest`
read apart (``open_interest`` by (venue, symbol)) converted at the leg's current mark
(:func:`~core.domain.universe.open_interest_usd`); unknown otherwise.

Flags: ``intervals_differ`` (the two legs settle on different intervals: the carry arrives
unevenly), ``capped`` (either leg's estimate sits at its cap or floor: the true premium is
larger than the rate shows and the venue may shorten the interval) and ``oi_unchecked`` (a
minimum open interest is set and a leg's open interest is unknown: the row is kept, not
hidden, and marked, since a figure that could not be read says nothing about the market).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.domain.universe import (
    EMPTY_HISTORY,
    OpenInterest,
    Perp,
    SettledHistory,
    open_interest_usd,
)

HOURS_PER_YEAR = 24 * 365
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """What the ranking takes besides the market.

    ``horizon_h``: hours the pair is expected to be held (net carry is over this);
    ``notional_usd``: USD per leg for the money figures; ``min_net_apr_pct``: rows below this
    net APR (percent) are dropped (None = keep all); ``min_volume_usd`` /
    ``min_open_interest_usd``: both legs must reach these 24 h volume / open interest (USD)
    where known (an unknown figure does not exclude a row; an unknown open interest under a
    minimum marks it :attr:`Opportunity.oi_unchecked`);
    ``windows_days``: the averaging windows."""

    horizon_h: float = 72.0
    notional_usd: float = 10_000.0
    min_net_apr_pct: float | None = None
    min_volume_usd: float = 0.0
    min_open_interest_usd: float = 0.0
    windows_days: tuple[int, ...] = (1, 3, 7)


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of a ranked pair.

    ``rate_per_hour``: the next estimate per hour; ``settled_rate`` / ``settled_ms``: the last
    settled rate and its settlement instant (None when no history was read);
    ``funding_next``: what this leg receives (negative: pays) at its next settlement on
    ``notional_usd``, in the perpetual's settle currency (linear: USDT/USDC; inverse: the
    coin, notional / mark); ``funding_next_usd``: the same in USD. ``open_interest_usd``: the
    leg's open interest in USD (None: unknown); ``open_interest``: the figure read apart from
    the quotes it comes from, or why it is unknown (None: the venue gives it with the quotes,
    or not at all)."""

    perp: Perp
    side: str
    rate_per_hour: float
    settled_rate: float | None
    settled_ms: int | None
    funding_next: float
    funding_next_usd: float
    at_cap: bool
    open_interest_usd: float | None = None
    open_interest: OpenInterest | None = None

    @property
    def settled_per_hour(self) -> float | None:
        """:attr:`settled_rate` per hour of its interval, or None."""
        if self.settled_rate is None:
            return None
        return self.settled_rate / self.perp.interval_h


@dataclass(frozen=True, slots=True)
class Opportunity:
    """One ranked pair. Fractions of one leg's notional unless the name says USD or APR
    (APR as a fraction per year: 0.1 = 10 %). ``averages``: the spread per hour over each of
    :attr:`ScanSettings.windows_days` (None = history too short)."""

    asset: str
    short: Leg
    long: Leg
    spread_per_hour: float
    spread_apr: float
    settled_spread_per_hour: float | None
    basis: float
    fees: float
    net_carry: float
    net_apr: float
    net_carry_usd: float
    averages: tuple[float | None, ...]
    intervals_differ: bool
    capped: bool
    oi_unchecked: bool = False
    """A minimum open interest is set and a leg's is unknown (the row passed unchecked)."""

    @property
    def key(self) -> str:
        """A row key stable while the pair keeps its direction: ``asset short/long``."""
        s, lg = self.short.perp, self.long.perp
        return f"{self.asset} {s.venue}:{s.symbol}/{lg.venue}:{lg.symbol}"

    @property
    def pair_key(self) -> str:
        """A row key of the pair whichever leg is short: ``asset a|b`` with the two
        ``venue:symbol`` in sorted order (a console row keeps it when the direction flips)."""
        a, b = sorted(f"{p.venue}:{p.symbol}" for p in (self.short.perp, self.long.perp))
        return f"{self.asset} {a}|{b}"


OpenInterests = Mapping[tuple[str, str], OpenInterest]


def leg_open_interest(p: Perp, read: OpenInterest | None) -> float | None:
    """``p``'s open interest in USD: its own, else ``read`` at its mark, else None."""
    if p.open_interest_usd is not None:
        return p.open_interest_usd
    if read is None or read.contracts is None:
        return None
    return open_interest_usd(p, read.contracts)


def _leg(
    p: Perp, side: str, hist: SettledHistory, notional_usd: float, oi: OpenInterest | None
) -> Leg:
    last = hist.last
    sign = 1.0 if side == "short" else -1.0
    usd = sign * p.next_rate * notional_usd
    native = usd / p.unit_price if p.kind == "inverse" else usd
    return Leg(
        perp=p,
        side=side,
        rate_per_hour=p.rate_per_hour,
        settled_rate=None if last is None else last[1],
        settled_ms=None if last is None else last[0],
        funding_next=native,
        funding_next_usd=usd,
        at_cap=p.at_cap(),
        open_interest_usd=p.open_interest_usd if oi is None else leg_open_interest(p, oi),
        open_interest=oi,
    )


def _average(hist: SettledHistory, p: Perp, now_ms: int, days: int) -> float | None:
    start = now_ms - days * DAY_MS
    if not hist.covers(start, int(p.interval_h * HOUR_MS)):
        return None
    return hist.window_sum(start, now_ms) / (days * 24)


def rank_pair(
    a: Perp,
    b: Perp,
    settings: ScanSettings,
    now_ms: int,
    histories: Mapping[tuple[str, str], SettledHistory] | None = None,
    open_interest: OpenInterests | None = None,
) -> Opportunity:
    """The figures of one matched pair (see the module docstring)."""
    hs = histories or {}
    ois = open_interest or {}
    if b.rate_per_hour > a.rate_per_hour:
        a, b = b, a
    ka, kb = a.key, b.key
    ha, hb = hs.get(ka, EMPTY_HISTORY), hs.get(kb, EMPTY_HISTORY)
    short = _leg(a, "short", ha, settings.notional_usd, ois.get(ka) if ois else None)
    long = _leg(b, "long", hb, settings.notional_usd, ois.get(kb) if ois else None)
    spread = short.rate_per_hour - long.rate_per_hour
    s_set, l_set = short.settled_per_hour, long.settled_per_hour
    settled = None if s_set is None or l_set is None else s_set - l_set
    ps, pl = a.unit_price, b.unit_price
    basis = (pl - ps) / ((pl + ps) / 2)
    fees = 2 * (a.taker_fee + b.taker_fee)
    h = settings.horizon_h
    net = spread * h - fees - basis
    averages: list[float | None] = []
    for days in settings.windows_days:
        sa, sb = _average(ha, a, now_ms, days), _average(hb, b, now_ms, days)
        averages.append(None if sa is None or sb is None else sa - sb)
    return Opportunity(
        asset=a.asset,
        short=short,
        long=long,
        spread_per_hour=spread,
        spread_apr=spread * HOURS_PER_YEAR,
        settled_spread_per_hour=settled,
        basis=basis,
        fees=fees,
        net_carry=net,
        net_apr=net / h * HOURS_PER_YEAR,
        net_carry_usd=net * settings.notional_usd,
        averages=tuple(averages),
        intervals_differ=a.interval_h != b.interval_h,
        capped=short.at_cap or long.at_cap,
        oi_unchecked=settings.min_open_interest_usd > 0
        and (short.open_interest_usd is None or long.open_interest_usd is None),
    )


def _liquid(p: Perp, settings: ScanSettings, ois: OpenInterests) -> bool:
    vol = p.volume_24h_usd
    if vol is not None and vol < settings.min_volume_usd:
        return False
    if settings.min_open_interest_usd <= 0:
        return True
    oi = leg_open_interest(p, ois.get(p.key))
    return oi is None or oi >= settings.min_open_interest_usd


def rank(
    pairs: Iterable[tuple[Perp, Perp]],
    settings: ScanSettings,
    now_ms: int,
    histories: Mapping[tuple[str, str], SettledHistory] | None = None,
    open_interest: OpenInterests | None = None,
) -> list[Opportunity]:
    """Every pair that passes the volume / open-interest and net-APR filters, best net carry
    first (ties: by row key, so the order is stable). ``open_interest``: figures read apart
    from the quotes, by (venue, symbol)."""
    out: list[Opportunity] = []
    ois = open_interest or {}
    min_apr = None if settings.min_net_apr_pct is None else settings.min_net_apr_pct / 100
    filtered = settings.min_volume_usd > 0 or settings.min_open_interest_usd > 0
    for a, b in pairs:
        if filtered and not (_liquid(a, settings, ois) and _liquid(b, settings, ois)):
            continue
        o = rank_pair(a, b, settings, now_ms, histories, ois)
        if min_apr is not None and o.net_apr < min_apr:
            continue
        out.append(o)
    out.sort(key=lambda o: (-o.net_carry, o.key))
    return out
