"""Immutable engine snapshots: what the console (or any observer) reads.

The engine builds a new :class:`EngineSnapshot` at UI pace (a few per second, never per event)
and publishes it by swapping one reference; readers never see a half-built state and never
lock. Everything here is frozen and holds plain values. Units are in the field names:
``*_ts_ms`` UTC ms, ``*_usd`` USD, ``qty`` in the instrument's own unit (``unit``),
``rate`` a fraction per ``interval_h`` hours, ``*_apr`` a fraction per year (0.219 = 21.9 %).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.domain.tradestats import HedgeTurnover, RoundTrip

NO_HEDGES = HedgeTurnover()
"""The turnover of a run that has not hedged yet."""


@dataclass(frozen=True, slots=True)
class FundingView:
    """One venue's funding for one instrument.

    ``settled_rate`` is the last rate paid (at ``settled_ts_ms``). ``next_rate`` is the rate
    for the next settlement at ``next_settlement_ts_ms``; ``next_rate_kind`` says what it is:
    ``"fixed"`` (BitMEX fundingRate), ``"estimate"`` (a live estimate) or ``"last"`` (no
    forecast known: the last settled rate stands in). ``rate_per_hour`` and ``apr`` are of
    ``next_rate``. ``countdown_ms`` is to the next settlement from the snapshot's time.
    """

    venue: str
    symbol: str
    settled_rate: Decimal | None
    settled_ts_ms: int | None
    next_rate: Decimal | None
    next_rate_kind: str
    interval_h: float
    rate_per_hour: float | None
    apr: float | None
    next_settlement_ts_ms: int | None
    countdown_ms: int | None
    mark: float | None


@dataclass(frozen=True, slots=True)
class PairView:
    """The funding-arb signal of one pair of legs.

    ``spread_per_hour`` = rate per hour of ``short_venue`` minus that of ``long_venue`` (the
    carry a position in that direction earns per hour, as a fraction of notional);
    ``spread_apr`` the same per year. ``spread_ema_fast``/``slow`` are EMAs of the spread per
    hour (None until seeded). ``basis_pct`` = (long price - short price) / mid x 100.
    ``edge_pct`` = expected carry over the horizon net of round-trip fees and basis, in %.
    ``status``: ``"flat"``, ``"open"``, ``"leg-risk"`` or ``"closing"``.
    """

    name: str
    long_venue: str
    short_venue: str
    spread_per_hour: float | None
    spread_apr: float | None
    spread_ema_fast: float | None
    spread_ema_slow: float | None
    basis_pct: float | None
    edge_pct: float | None
    observations: int
    status: str
    unhedged_btc: float
    entry_edge_pct: float | None = None
    """The edge (in %) the entry needs (``[strategy] entry_edge_pct``)."""
    observations_left: int | None = None
    """While flat: observations still needed before an entry, counting the one due next if
    the edge holds (``[strategy] observations`` minus those already in a row); None when
    not flat."""
    break_even_days: float | None = None
    """Days the carry at the current spread needs to pay the fees and basis still to pay
    (:meth:`core.domain.signal.PairSignal.break_even_days`); None: never, or unknown."""
    armed: bool = True
    """False for a pair added at run time and not yet armed (``ArmPair``): it opens
    nothing, whatever the engine's state; the console shows it DISARMED."""


@dataclass(frozen=True, slots=True)
class LegView:
    """One position. ``qty`` signed in ``unit`` (BTC or contracts); ``qty_btc`` its BTC delta
    (inverse: contracts x contract_size / mark). PnL and funding in ``settle_currency`` and USD
    (converted at mark). ``funding`` is received (> 0) minus paid."""

    venue: str
    symbol: str
    qty: Decimal
    unit: str
    qty_btc: float
    entry_price: Decimal | None
    mark: float | None
    upnl: float
    upnl_usd: float
    funding: Decimal
    funding_usd: float
    settle_currency: str
    asset: str = "BTC"
    """The asset the instrument trades (``qty_btc`` is its delta in that asset: BTC's only
    for a BTC instrument)."""
    tick: Decimal | None = None
    """The instrument's price step (its spec's ``tick``, quote currency): prices are shown
    to its decimals; None when unknown."""
    lot: Decimal | None = None
    """The instrument's quantity step in ``unit`` (its spec's ``lot``); None when unknown."""


@dataclass(frozen=True, slots=True)
class LadderLevelView:
    """One DCA ladder level of one leg: ``delta_pct`` from the leg's first fill, the
    ``trigger_price``, the size in the venue's unit and in USD, and ``status``:
    ``"filled"``, ``"pending"``, ``"over cap"`` (pending, but the leg's notional cap leaves it
    no room: :func:`core.domain.ladder.plan_pending`), ``"skipped"`` (sized to nothing or
    capped when triggered) or ``"cancelled"``. Only an open pair's levels are shown: a pair's
    ladder goes when its round trip closes."""

    venue: str
    symbol: str
    index: int
    delta_pct: float
    trigger_price: float | None
    size: Decimal | None
    size_usd: float | None
    status: str
    planned: bool = False
    """True when ``size`` and ``size_usd`` are the level's planned size (a pending level: base
    notional x its multiplier at its trigger price, cut to the room the leg's notional cap
    leaves; before the volatility scale and the free-capital limit that apply when it fills)."""
    tick: Decimal | None = None
    """The instrument's price step (spec ``tick``): the trigger is shown to its decimals."""
    lot: Decimal | None = None
    """The instrument's quantity step (spec ``lot``): the size is shown to its decimals."""


@dataclass(frozen=True, slots=True)
class RiskView:
    """Trading state, equity and drawdown. ``drawdown_pct`` and ``drawdown_limit_pct`` in %."""

    trading_state: str
    equity_usd: float
    peak_equity_usd: float
    drawdown_pct: float
    max_drawdown_pct: float
    drawdown_limit_pct: float
    net_delta_btc: float
    hedge_band_btc: float
    data_stale: bool
    pair_deltas: tuple[tuple[str, str, float, float], ...] = ()
    """With several pairs (which may trade different assets): each pair's ``(name, asset,
    net delta, hedge band)`` in its own base asset's units (the book's ``net_delta_btc`` would
    add BTC to XRP); empty with one pair."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A discrete event for the console's log: ``kind`` is ``"fill"``, ``"funding"``,
    ``"state"``, ``"alert"`` or ``"command"``; ``seq`` increases by one per entry."""

    seq: int
    ts_ms: int
    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class ReplayView:
    """Replay progress. ``speed`` is the sim-time multiple of wall time, None = as fast as
    possible."""

    events_done: int
    events_total: int
    speed: float | None
    paused: bool
    finished: bool
    failed: str = ""
    """Why the replay stopped before its end (``replay failed at FILE:LINE: reason``), or "".
    """


@dataclass(frozen=True, slots=True)
class FeedView:
    """One live market-data stream (paper and live modes). ``state`` is ``"live"``,
    ``"connecting"``, ``"stale"`` or ``"down"``; ``stale_for_ms`` is how long it has been silent
    when not live (0 when live); ``messages`` and ``reconnects`` count since start. A venue's
    private (order) stream is one of these too, ``stream == "private"``; ``note`` says what is
    wrong when it is not live (e.g. the listenKey renewal failing), else "".
    """

    venue: str
    stream: str
    state: str
    stale_for_ms: int
    messages: int
    reconnects: int
    note: str = ""


@dataclass(frozen=True, slots=True)
class HistoryView:
    """The engine's hourly history for the charts, oldest first, at most a bounded number of
    hours (:data:`core.engine.history.HISTORY_HOURS`): one point per sim (or wall) hour.

    ``rates``: each traded instrument's funding rate per hour (a fraction), as
    ``("venue symbol", values)``; ``spread``: the first pair's spread per hour (short leg minus
    long leg, as the pair row shows it); ``entry_per_hour``/``exit_per_hour``: the spread per
    hour at the entry threshold (at zero basis: edge plus round-trip fees over the holding
    horizon) and at the exit APR; ``equity_usd`` and ``drawdown_pct`` (from the running peak),
    against ``drawdown_limit_pct``; ``spread_pair``: the name of the pair whose spread and
    thresholds these are, when the session has several (else empty)."""

    ts_ms: tuple[int, ...]
    rates: tuple[tuple[str, tuple[float | None, ...]], ...]
    spread: tuple[float | None, ...]
    entry_per_hour: float | None
    exit_per_hour: float | None
    equity_usd: tuple[float, ...]
    drawdown_pct: tuple[float, ...]
    drawdown_limit_pct: float
    spread_pair: str = ""


@dataclass(frozen=True, slots=True)
class Alarm:
    """Something that needs the operator now (the console's banner). ``kind``: ``"halted"``,
    ``"replay"`` (stopped on a bad line), ``"audit"`` (the audit log cannot write),
    ``"mismatch"`` (a venue holds another size), ``"stale"`` (market data silent beyond its
    threshold) or ``"connecting"`` (a venue not reached yet); ``text`` says what and why."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class BookView:
    """What the run has cost and earned so far, as the report gives it (issue 12): fees paid
    per purpose (entry, ladder, hedge, exit, ...) and funding per venue, both in USD and in
    the order first seen, and the last round trips (:class:`~core.domain.tradestats.RoundTrip`,
    oldest first; the last may still be open)."""

    fees_usd_by_purpose: tuple[tuple[str, float], ...] = ()
    funding_usd_by_venue: tuple[tuple[str, float], ...] = ()
    round_trips: tuple[RoundTrip, ...] = ()
    round_trips_total: int = 0


NO_BOOK = BookView()
"""The book of a run that has not traded yet."""


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    """Everything the console shows, as of simulated or wall time ``ts_ms``."""

    ts_ms: int
    mode: str
    funding: tuple[FundingView, ...]
    pairs: tuple[PairView, ...]
    legs: tuple[LegView, ...]
    ladders: tuple[LadderLevelView, ...]
    risk: RiskView
    equity_curve_usd: tuple[float, ...]
    log: tuple[LogEntry, ...]
    replay: ReplayView | None
    trades: int
    exposure_open: bool
    feeds: tuple[FeedView, ...] = ()
    hedges: HedgeTurnover = NO_HEDGES
    """The hedger's turnover so far (count, BTC traded, fees in USD)."""
    alarms: tuple[Alarm, ...] = ()
    """What needs the operator now, most urgent first (empty when all is well)."""
    history: HistoryView | None = None
    """The hourly history of rates, spread, equity and drawdown (the charts), if kept."""
    book: BookView = NO_BOOK
    """Fees per purpose, funding per venue and the last round trips (the book panel)."""
