"""The ledger: positions per venue, balances, fees, funding and PnL, in Decimal.

Money that changes hands (fills, fees, funding, balances) is Decimal. Funding is paid at each
venue's own settlement instants on the position held at that instant (HAZARDS H2, H4): the
ledger is told of a settlement by the engine and charges the position it holds then, once.
Coin amounts (XBT, BTC: inverse contracts) are converted to USD at the coin's mark of that
moment (``coin_usd``).

Records for reports: :class:`TradeRecord` (one per fill) and :class:`FundingPayment` (one per
settlement with a non-zero position).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from core.domain.contracts import ZERO, btc_delta, funding_amount, is_coin, price_pnl
from core.domain.events import InstrumentSpec
from core.domain.orders import Fill

Key = tuple[str, str]  # (venue, symbol)
#: Size changes kept per position for settlements learned late (a day of busy hedging).
HISTORY_KEEP = 512


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """One funding settlement on one position. ``position`` signed in the venue's unit;
    ``amount`` signed, received > 0, in ``currency``; ``amount_usd`` at ``mark_price``
    (XBT) or 1:1 (USDT)."""

    venue: str
    symbol: str
    settlement_ts_ms: int
    rate: Decimal
    mark_price: Decimal
    position: Decimal
    amount: Decimal
    currency: str
    amount_usd: Decimal


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One fill as booked: ``realised`` price PnL in the settle currency and in USD."""

    fill: Fill
    realised: Decimal
    realised_usd: Decimal
    fee_usd: Decimal


@dataclass(slots=True)
class Position:
    """A position on one instrument. ``qty`` signed in the venue's unit; ``entry_price`` the
    average entry (inverse: contract-weighted harmonic mean, as BitMEX computes it)."""

    spec: InstrumentSpec
    qty: Decimal = ZERO
    entry_price: Decimal | None = None
    realised: Decimal = ZERO
    funding: Decimal = ZERO
    fees: Decimal = ZERO
    history: deque[tuple[int, Decimal, Decimal]] = field(
        default_factory=lambda: deque(maxlen=HISTORY_KEEP)
    )
    """Recent size changes: (fill ts_ms, qty before, qty after), oldest first."""

    def qty_at(self, ts_ms: int) -> Decimal:
        """The size held at the instant ``ts_ms``: fills stamped at or after it do not count
        (a settlement at 08:00:00.000 sees what the fills before it left). This is the
        venues' rule for a settlement (Binance, Bybit, BitMEX: only a position held at the
        funding timestamp pays or receives): a position opened at the settlement instant
        is not charged for it, one closed at that instant is."""
        qty = self.qty
        for fill_ts, before, _ in reversed(self.history):
            if fill_ts < ts_ms:
                break
            qty = before
        return qty

    def unrealised(self, mark: Decimal) -> Decimal:
        """Price PnL at ``mark`` in the settle currency."""
        if self.qty == 0 or self.entry_price is None:
            return ZERO
        return price_pnl(self.spec, self.qty, self.entry_price, mark)


@dataclass(slots=True, eq=False, weakref_slot=True)
class Ledger:
    """Positions and balances of one account set (all venues).

    ``balances`` maps (venue, currency) to a Decimal wallet balance: realised PnL, fees and
    funding land there. Totals in USD (``*_usd``) feed the PnL split of the report.
    One object per engine, compared and hashed by identity, weakly referenced by the
    console's book-view cache (:func:`core.engine.views.book_view`).
    """

    specs: dict[Key, InstrumentSpec]
    balances: dict[Key, Decimal]
    positions: dict[Key, Position] = field(default_factory=dict)
    trades: list[TradeRecord] = field(default_factory=list)
    funding_payments: list[FundingPayment] = field(default_factory=list)
    realised_usd: Decimal = ZERO
    funding_usd: Decimal = ZERO
    fees_usd: Decimal = ZERO

    def __post_init__(self) -> None:
        for key, spec in self.specs.items():
            self.positions[key] = Position(spec)
            self.balances.setdefault((spec.venue, spec.settle_currency), ZERO)

    def position(self, venue: str, symbol: str) -> Position:
        """The position on ``venue``/``symbol`` (raises KeyError for an unknown instrument)."""
        return self.positions[(venue, symbol)]

    def apply_fill(self, fill: Fill, coin_usd: Decimal) -> TradeRecord:
        """Book a fill: position, average entry, realised PnL and fee into the balance."""
        pos = self.positions[(fill.venue, fill.symbol)]
        spec = pos.spec
        signed = fill.qty if fill.side == "buy" else -fill.qty
        realised = ZERO
        if pos.qty != 0 and (pos.qty > 0) != (signed > 0):
            closing = min(abs(signed), abs(pos.qty))
            closed_signed = closing if pos.qty > 0 else -closing
            assert pos.entry_price is not None
            realised = price_pnl(spec, closed_signed, pos.entry_price, fill.price)
            remaining = pos.qty + signed
            if remaining == 0:
                pos.entry_price = None
            elif (remaining > 0) != (pos.qty > 0):  # flipped: the rest opens at the fill price
                pos.entry_price = fill.price
            pos.qty = remaining
        else:
            pos.entry_price = _average_entry(spec, pos.qty, pos.entry_price, signed, fill.price)
            pos.qty += signed
        pos.history.append((fill.ts_ms, pos.qty - signed, pos.qty))
        pos.realised += realised
        pos.fees += fill.fee
        cur = spec.settle_currency
        self.balances[(spec.venue, cur)] += realised - fill.fee
        rate = coin_usd if is_coin(cur) else Decimal(1)
        rec = TradeRecord(fill, realised, realised * rate, fill.fee * rate)
        self.realised_usd += rec.realised_usd
        self.fees_usd += rec.fee_usd
        self.trades.append(rec)
        return rec

    def settle_funding(
        self, venue: str, symbol: str, ts_ms: int, rate: Decimal, mark: Decimal
    ) -> FundingPayment | None:
        """Charge one settlement on the position held at its instant ``ts_ms`` (which may lie
        before fills already booked, when a live feed learns of it late); None when flat
        then."""
        pos = self.positions.get((venue, symbol))
        if pos is None:
            return None
        held = pos.qty_at(ts_ms)
        if held == 0:
            return None
        spec = pos.spec
        amount = funding_amount(spec, held, mark, rate)
        cur = spec.settle_currency
        usd = amount * mark if is_coin(cur) else amount
        pos.funding += amount
        self.balances[(venue, cur)] += amount
        self.funding_usd += usd
        pay = FundingPayment(venue, symbol, ts_ms, rate, mark, held, amount, cur, usd)
        self.funding_payments.append(pay)
        return pay

    def correct_funding(self, venue: str, symbol: str, diff: Decimal, usd_rate: Decimal) -> None:
        """Book ``diff`` (the venue's funding amount minus the ledger's for one settlement,
        settle currency, signed) so that balance and funding hold the venue's figure; USD at
        ``usd_rate`` (1 for USDT, the coin's USD price for a coin)."""
        pos = self.positions[(venue, symbol)]
        pos.funding += diff
        self.balances[(venue, pos.spec.settle_currency)] += diff
        self.funding_usd += diff * usd_rate

    def unrealised_usd(self, marks: dict[Key, Decimal], coin_usd: Decimal) -> Decimal:
        """Unrealised price PnL of all positions in USD (coin at ``coin_usd``)."""
        total = ZERO
        for key, pos in self.positions.items():
            if pos.qty == 0 or key not in marks:
                continue
            upnl = pos.unrealised(marks[key])
            total += upnl * coin_usd if is_coin(pos.spec.settle_currency) else upnl
        return total

    def equity_usd(self, marks: dict[Key, Decimal], coin_usd: Decimal) -> Decimal:
        """Balances (USDT 1:1, coin at ``coin_usd``) plus unrealised PnL, in USD."""
        cash = sum(
            (bal * coin_usd if is_coin(cur) else bal for (_, cur), bal in self.balances.items()),
            ZERO,
        )
        return cash + self.unrealised_usd(marks, coin_usd)

    def net_delta_btc(self, marks: dict[Key, Decimal]) -> Decimal:
        """Sum of every position's BTC delta (inverse at its mark)."""
        total = ZERO
        for key, pos in self.positions.items():
            if pos.qty != 0 and key in marks:
                total += btc_delta(pos.spec, pos.qty, marks[key])
        return total

    def has_exposure(self) -> bool:
        """True while any position is non-zero."""
        return any(p.qty != 0 for p in self.positions.values())


def _average_entry(
    spec: InstrumentSpec, qty: Decimal, entry: Decimal | None, add: Decimal, price: Decimal
) -> Decimal:
    if qty == 0 or entry is None:
        return price
    total = qty + add
    if spec.kind == "inverse":  # contracts / sum(contracts_i / price_i)
        return total / (qty / entry + add / price)
    return (qty * entry + add * price) / total
