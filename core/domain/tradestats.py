"""What a run's trades add up to: the hedger's turnover and the pairs' round trips.

Pure arithmetic over the ledger's records (:class:`~core.domain.ledger.TradeRecord`,
:class:`~core.domain.ledger.FundingPayment`); no I/O. Used by the replay report
(:mod:`core.analysis.report`) and the console's snapshot (:mod:`core.engine.views`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from core.domain.contracts import ZERO, btc_delta
from core.domain.events import InstrumentSpec
from core.domain.ledger import FundingPayment, Key, TradeRecord


@dataclass(frozen=True, slots=True)
class HedgeTurnover:
    """The hedger's work in one run: ``count`` hedge fills, ``btc`` the BTC they traded
    (|qty| in BTC at the fill price, inverse contracts / price), ``fees_usd`` their fees
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
        btc += abs(btc_delta(specs[(f.venue, f.symbol)], f.qty, f.price))
        fees += t.fee_usd
    return HedgeTurnover(count, btc, fees)


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
