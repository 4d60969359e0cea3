"""Building an :class:`~core.domain.snapshot.EngineSnapshot` from the engine's live state.

Called by the engine's own thread at UI pace (never per event); everything it returns is
immutable, so the console can read it from another thread without locks.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from core.domain.contracts import base_asset, btc_delta, is_coin
from core.domain.ladder import plan_pending
from core.domain.market import HOUR_MS, HOURS_PER_YEAR
from core.domain.signal import PairSignal
from core.domain.snapshot import (
    NO_BOOK,
    NO_HEDGES,
    Alarm,
    BookView,
    EngineSnapshot,
    FeedView,
    FundingView,
    HistoryView,
    LadderLevelView,
    LegView,
    PairView,
    ReplayView,
    RiskView,
)
from core.domain.tradestats import (
    HedgeTurnover,
    fees_by_venue_and_purpose,
    hedge_turnover,
    round_trips,
)

if TYPE_CHECKING:
    from core.domain.ledger import Ledger
    from core.engine.engine import Engine

CURVE_POINTS = 240


def build_snapshot(
    engine: Engine,
    replay: ReplayView | None,
    feeds: tuple[FeedView, ...] = (),
    alarms: tuple[Alarm, ...] = (),
    history: HistoryView | None = None,
) -> EngineSnapshot:
    """The engine's state now as a frozen snapshot (``feeds``: live streams, if any;
    ``alarms``: what needs the operator now, :mod:`core.engine.attention`)."""
    now = engine.now
    xbt = engine.coin_usd()
    funding = []
    for key in engine.specs:
        st = engine.market.instruments.get(key)
        if st is None or (st.mark is None and st.settled_rate is None and not st.ahead):
            continue  # configured but without data in this run (e.g. XBTUSDT in a BTC replay)
        rate, kind, interval_ms = st.next_rate()
        rph = st.rate_per_hour()
        nxt = st.next_settlement_ts_ms()
        funding.append(
            FundingView(
                key[0],
                key[1],
                st.settled_rate,
                st.settled_ts_ms,
                rate,
                kind,
                (interval_ms or 0) / HOUR_MS,
                rph,
                rph * HOURS_PER_YEAR if rph is not None else None,
                nxt,
                (nxt - now) if nxt is not None else None,
                st.mark,
            )
        )
    pairs = []
    ladders = []
    for pr in engine.pairs:
        r = pr.signal.last
        d = pr.direction if pr.status != "flat" else r.direction
        long_v, short_v = (pr.key_b[0], pr.key_a[0]) if d >= 0 else (pr.key_a[0], pr.key_b[0])
        spread = r.spread_per_hour * d if r.spread_per_hour is not None and d else r.spread_per_hour
        pairs.append(
            PairView(
                pr.cfg.name,
                long_v,
                short_v,
                spread,
                spread * HOURS_PER_YEAR if spread is not None else None,
                pr.signal.ema_fast * d
                if pr.signal.ema_fast is not None and d
                else pr.signal.ema_fast,
                pr.signal.ema_slow * d
                if pr.signal.ema_slow is not None and d
                else pr.signal.ema_slow,
                r.basis * 100 if r.basis is not None else None,
                r.edge * 100 if r.edge is not None else None,
                pr.signal.observations,
                pr.status,
                pr.unhedged_btc(),
                pr.signal.cfg.entry_edge_pct,
                _observations_left(pr.signal) if pr.status == "flat" else None,
                break_even_days=pr.signal.break_even_days(
                    *pr.states(), pr.direction if pr.status == "open" else 0
                ),
                armed=pr.armed,
            )
        )
        for lad in pr.ladders.values():
            spec = engine.specs.get((lad.venue, lad.symbol))
            plans = {}
            if spec is not None:
                held = engine.ledger.position(lad.venue, lad.symbol).qty
                base = engine.settings.sizing.base_notional_usd
                plans = plan_pending(lad, spec, held, base, pr.leg_cap_usd())
            for lvl in lad.levels:
                size, size_usd, status = lvl.size, lvl.size_usd, lvl.status
                plan = plans.get(lvl.index) if size is None else None
                if plan is not None:  # pending: what it would add, or never placed
                    size, size_usd = (None, None) if plan.over_cap else (plan.qty, float(plan.usd))
                    status = "over cap" if plan.over_cap else status
                ladders.append(
                    LadderLevelView(
                        lad.venue,
                        lad.symbol,
                        lvl.index,
                        lvl.delta_pct,
                        lvl.trigger_price,
                        size,
                        size_usd,
                        status,
                        plan is not None and not plan.over_cap,
                        spec.tick if spec is not None else None,
                        spec.lot if spec is not None else None,
                    )
                )
    legs = []
    for key, pos in engine.ledger.positions.items():
        if pos.qty == 0 and pos.funding == 0:
            continue
        st = engine.market.instruments.get(key)
        mark = st.mark if st is not None else None
        spec = pos.spec
        qty_btc = 0.0
        upnl = 0.0
        if mark is not None and pos.qty != 0:
            m = Decimal(repr(mark))
            qty_btc = float(btc_delta(spec, pos.qty, m))
            upnl = float(pos.unrealised(m))
        to_usd = xbt if is_coin(spec.settle_currency) else 1.0
        asset = base_asset(spec)
        legs.append(
            LegView(
                key[0],
                key[1],
                pos.qty,
                "contracts" if spec.kind == "inverse" or spec.contract_size != 1 else asset,
                qty_btc,
                pos.entry_price,
                mark,
                upnl,
                upnl * to_usd,
                pos.funding,
                float(pos.funding) * to_usd,
                spec.settle_currency,
                asset,
                spec.tick,
                spec.lot,
            )
        )
    dd = engine.dd
    risk = RiskView(
        str(engine.state),
        engine.equity_usd,
        dd.peak_usd,
        dd.drawdown_pct,
        dd.max_drawdown_pct,
        dd.limit_pct,
        float(engine.net_delta_btc()) if engine.ledger.has_exposure() else 0.0,
        float(engine.settings.hedge.band_btc),
        bool(engine.stale_venues),
        tuple((p.cfg.name, p.asset, float(p.net_delta()), float(p.band)) for p in engine.pairs)
        if len(engine.pairs) > 1
        else (),
    )
    curve = tuple(eq for _, eq in engine.equity_curve[-CURVE_POINTS:])
    hedges, book = book_view(engine)
    return EngineSnapshot(
        now,
        engine.mode,
        tuple(funding),
        tuple(pairs),
        tuple(legs),
        tuple(ladders),
        risk,
        curve,
        tuple(engine.log),
        replay,
        len(engine.ledger.trades),
        engine.ledger.has_exposure(),
        feeds,
        hedges,
        alarms,
        history,
        book,
    )


BOOK_ROUND_TRIPS = 5
"""Round trips the book panel shows (the last ones)."""
_books: WeakKeyDictionary[Ledger, tuple[tuple[int, int], tuple[HedgeTurnover, BookView]]] = (
    WeakKeyDictionary()
)
"""Each engine's last book view, under its ledger (an engine's for its life): the engine
itself takes no weak reference once built with mypyc (bench/build_compiled.sh)."""


def book_view(engine: Engine) -> tuple[HedgeTurnover, BookView]:
    """The engine's hedge turnover and :class:`BookView`, rebuilt only when a fill or a
    funding payment has been booked since the last call (snapshots come at UI pace; trades
    and payments only grow)."""
    trades, pays = engine.ledger.trades, engine.ledger.funding_payments
    if not trades and not pays:
        return NO_HEDGES, NO_BOOK
    key = (len(trades), len(pays))
    cached = _books.get(engine.ledger)
    if cached is not None and cached[0] == key:
        return cached[1]
    purposes: dict[str, float] = {}
    for by_purpose in fees_by_venue_and_purpose(trades).values():
        for purpose, usd in by_purpose.items():
            purposes[purpose] = purposes.get(purpose, 0.0) + float(usd)
    venues: dict[str, float] = {}
    for p in pays:
        venues[p.venue] = venues.get(p.venue, 0.0) + float(p.amount_usd)
    trips = round_trips(trades, pays)
    turnover = hedge_turnover(trades, engine.specs)
    view = BookView(
        tuple(purposes.items()), tuple(venues.items()), tuple(trips[-BOOK_ROUND_TRIPS:]),
        len(trips),
    )  # fmt: skip
    _books[engine.ledger] = (key, (turnover, view))
    return turnover, view


def _observations_left(signal: PairSignal) -> int:
    """Observations still needed before an entry if the edge holds (a flat pair)."""
    return max(0, signal.cfg.observations - signal.entry_count)
