"""What a run's trades add up to: the hedger's turnover and the pairs' round trips.

Pure arithmetic over the ledger's records (:class:`~core.domain.ledger.TradeRecord`,
:class:`~core.domain.ledger.FundingPayment`); no I/O. Used by the replay report
(:mod:`core.analysis.report`) and the console's snapshot (:mod:`core.engine.views`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from core.domain.contracts import ZERO, base_asset, btc_delta
from core.domain.events import InstrumentSpec
from core.domain.ledger import FundingPayment, Key, TradeRecord


@dataclass(frozen=True, slots=True)
class HedgeTurnover:
    """The hedger's work in one run: ``count`` hedge fills, ``btc`` the BTC they traded
    (|qty| in BTC at the fill price, inverse contracts / price; fills of BTC instruments only:
    another asset's pair counts its own in :class:`PairFigures`), ``fees_usd`` their fees
    (USD at the fill's coin price, as booked)."""

    count: int = 0
    btc: Decimal = ZERO
    fees_usd: Decimal = ZERO


def hedge_turnover(
    trades: Iterable[TradeRecord], specs: dict[Key, InstrumentSpec]
) -> HedgeTurnover:
    """Sum the fills whose purpose is ``hedge``."""
    count, btc, fees = 0, ZERO, ZERO
    for t in trades:
        f = t.fill
        if f.purpose != "hedge":
            continue
        count += 1
        spec = specs[(f.venue, f.symbol)]
        if base_asset(spec) == "BTC":
            btc += abs(btc_delta(spec, f.qty, f.price))
        fees += t.fee_usd
    return HedgeTurnover(count, btc, fees)


@dataclass(frozen=True, slots=True)
class AssetHedges:
    """The hedge fills of one asset's instruments in one run: ``count``, ``qty`` the asset
    they traded (|delta| in its own units: BTC, XRP; inverse contracts / price) and
    ``fees_usd`` their fees (USD, as booked)."""

    count: int = 0
    qty: Decimal = ZERO
    fees_usd: Decimal = ZERO


def hedges_by_asset(
    trades: Iterable[TradeRecord], specs: Mapping[Key, InstrumentSpec]
) -> dict[str, AssetHedges]:
    """The ``hedge`` fills summed per asset (:func:`~core.domain.contracts.base_asset`), in
    the order first hedged: never BTC and another asset in one figure."""
    out: dict[str, AssetHedges] = {}
    for t in trades:
        f = t.fill
        if f.purpose != "hedge":
            continue
        spec = specs[(f.venue, f.symbol)]
        asset = base_asset(spec)
        h = out.get(asset, AssetHedges())
        out[asset] = AssetHedges(
            h.count + 1, h.qty + abs(btc_delta(spec, f.qty, f.price)), h.fees_usd + t.fee_usd
        )
    return out


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One pair's position from flat to flat. ``close_ts_ms`` None while still open (then
    ``basis_usd`` holds only what was realised). USD figures: ``funding_usd`` the settlements
    on its legs while open (received > 0), ``fees_usd`` every fee of its fills (entry, ladder,
    hedge, exit; > 0 = paid), ``basis_usd`` the realised price PnL, ``net_usd`` =
    basis + funding - fees."""

    pair: str
    open_ts_ms: int
    close_ts_ms: int | None
    funding_usd: Decimal
    fees_usd: Decimal
    basis_usd: Decimal
    fills: int

    @property
    def net_usd(self) -> Decimal:
        """Basis + funding - fees, in USD."""
        return self.basis_usd + self.funding_usd - self.fees_usd

    def holding_hours(self, now_ms: int) -> float:
        """Hours from the first fill to the last (to ``now_ms`` while open)."""
        end = self.close_ts_ms if self.close_ts_ms is not None else now_ms
        return (end - self.open_ts_ms) / 3_600_000


@dataclass(slots=True)
class _Open:
    seq: int
    open_ts_ms: int
    keys: set[Key]
    fees: Decimal = ZERO
    basis: Decimal = ZERO
    fills: int = 0


def round_trips(
    trades: Iterable[TradeRecord], payments: Iterable[FundingPayment]
) -> list[RoundTrip]:
    """Every pair's round trips, in the order they opened: a trip opens with a fill of the
    pair while all its legs are flat and closes with the fill that leaves them all flat."""
    pays = list(payments)
    trips: dict[str, _Open] = {}
    held: dict[str, dict[Key, Decimal]] = {}
    done: list[tuple[int, RoundTrip]] = []

    def finish(pair: str, trip: _Open, close: int | None) -> None:
        funding = sum(
            (
                p.amount_usd
                for p in pays
                if (p.venue, p.symbol) in trip.keys
                and trip.open_ts_ms <= p.settlement_ts_ms
                and (close is None or p.settlement_ts_ms <= close)
            ),
            ZERO,
        )
        rt = RoundTrip(pair, trip.open_ts_ms, close, funding, trip.fees, trip.basis, trip.fills)
        done.append((trip.seq, rt))

    seq = 0
    for t in trades:
        f = t.fill
        key = (f.venue, f.symbol)
        trip = trips.get(f.pair)
        if trip is None:
            trip = trips[f.pair] = _Open(seq, f.ts_ms, set())
            seq += 1
        trip.keys.add(key)
        trip.fees += t.fee_usd
        trip.basis += t.realised_usd
        trip.fills += 1
        qty = held.setdefault(f.pair, {})
        qty[key] = qty.get(key, ZERO) + (f.qty if f.side == "buy" else -f.qty)
        if all(q == 0 for q in qty.values()):
            finish(f.pair, trips.pop(f.pair), f.ts_ms)
    for pair, trip in trips.items():
        finish(pair, trip, None)
    return [rt for _, rt in sorted(done, key=lambda x: x[0])]


def fees_by_venue_and_purpose(trades: Iterable[TradeRecord]) -> dict[str, dict[str, Decimal]]:
    """Fees paid in USD (> 0 = paid) per venue, then per purpose (entry, ladder, hedge, exit,
    unwind, flatten, kill), in the order first seen."""
    out: dict[str, dict[str, Decimal]] = {}
    for t in trades:
        by = out.setdefault(t.fill.venue, {})
        by[t.fill.purpose] = by.get(t.fill.purpose, ZERO) + t.fee_usd
    return out


@dataclass(slots=True)
class PairFigures:
    """What one pair's legs added up to in a run, USD unless the name says otherwise:
    ``funding_received_usd`` (> 0) and ``funding_paid_usd`` (< 0) its legs' settlements,
    ``fees_usd`` its fills' fees (> 0 = paid), ``realised_usd`` / ``unrealised_usd`` its
    price PnL (unrealised at the end's marks), ``hedges`` / ``hedge_qty`` its hedge fills and
    the base asset they traded (|delta|, the pair's own units: BTC, XRP)."""

    funding_received_usd: Decimal = ZERO
    funding_paid_usd: Decimal = ZERO
    fees_usd: Decimal = ZERO
    realised_usd: Decimal = ZERO
    unrealised_usd: Decimal = ZERO
    trades: int = 0
    hedges: int = 0
    hedge_qty: Decimal = ZERO

    @property
    def funding_usd(self) -> Decimal:
        """Net funding (received > 0)."""
        return self.funding_received_usd + self.funding_paid_usd

    @property
    def basis_usd(self) -> Decimal:
        """Price PnL, realised and unrealised."""
        return self.realised_usd + self.unrealised_usd

    @property
    def total_usd(self) -> Decimal:
        """Basis + funding - fees: the pair's share of the book's PnL."""
        return self.basis_usd + self.funding_usd - self.fees_usd


def pair_figures(
    trades: Iterable[TradeRecord],
    payments: Iterable[FundingPayment],
    owner: Mapping[Key, str],
    unrealised_usd: Mapping[Key, Decimal],
    specs: Mapping[Key, InstrumentSpec],
) -> dict[str, PairFigures]:
    """Each pair's :class:`PairFigures`, by the instrument its records are on (an instrument
    belongs to one pair only: ``owner``); an instrument no pair trades counts under
    ``"none"``. Pairs in ``owner``'s order; the book is their sum, to the cent."""
    out: dict[str, PairFigures] = {name: PairFigures() for name in owner.values()}

    def of(key: Key) -> PairFigures:
        return out.setdefault(owner.get(key, "none"), PairFigures())

    for t in trades:
        f = t.fill
        key = (f.venue, f.symbol)
        fig = of(key)
        fig.trades += 1
        fig.fees_usd += t.fee_usd
        fig.realised_usd += t.realised_usd
        if f.purpose == "hedge":
            fig.hedges += 1
            fig.hedge_qty += abs(btc_delta(specs[key], f.qty, f.price))
    for p in payments:
        fig = of((p.venue, p.symbol))
        if p.amount_usd >= 0:
            fig.funding_received_usd += p.amount_usd
        else:
            fig.funding_paid_usd += p.amount_usd
    for key, upnl in unrealised_usd.items():
        if upnl:
            of(key).unrealised_usd += upnl
    return out
