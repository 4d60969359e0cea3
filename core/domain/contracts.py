"""Contract arithmetic for linear and inverse perpetuals, in Decimal.

Sources: Binance USD-M "Funding Rate" and "Contract Specifications" (linear: funding =
position x mark x rate, USDT); BitMEX "Perpetual Contracts Guide" and "XBTUSD" spec (inverse:
1 contract = 1 USD, PnL = contracts x (1/entry - 1/exit) XBT, funding = contracts / mark x rate
XBT); BitMEX XBTUSDT spec (linear, 1 contract = 1e-6 XBT). A positive rate means longs pay
shorts. Amounts are "received" positive. Quantities are signed (long > 0) in the venue's own
unit: BTC for BTCUSDT, contracts for BitMEX.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

from core.domain.events import InstrumentSpec

ZERO = Decimal(0)

COIN_CURRENCIES = frozenset({"XBT", "BTC"})
"""Settle currencies that are the coin itself (inverse contracts pay PnL and funding in it);
they are valued in USD at the coin's mark. Any other currency (USDT, USDC, USD) counts 1:1."""


def is_coin(currency: str) -> bool:
    """True for a coin settle currency (:data:`COIN_CURRENCIES`), valued at the coin's mark."""
    return currency in COIN_CURRENCIES


def base_asset(spec: InstrumentSpec) -> str:
    """The asset an instrument trades, from its symbol and quote: ``BTCUSDT`` (quote USDT)
    and ``XBTUSD`` / ``BTCUSD_PERP`` (quote USD) are ``BTC`` (XBT is BTC's ticker at some
    venues), ``XRPUSDT`` is ``XRP``. A symbol that does not end in its quote is its own name
    (upper case) minus a ``_PERP`` / ``-PERP`` suffix."""
    sym = spec.symbol.upper()
    for suffix in ("_PERP", "-PERP"):
        sym = sym.removesuffix(suffix)
    quote = spec.quote.upper()
    if quote and sym.endswith(quote) and len(sym) > len(quote):
        sym = sym[: -len(quote)]
    return "BTC" if sym in COIN_CURRENCIES else sym


def btc_delta(spec: InstrumentSpec, qty: Decimal, price: Decimal) -> Decimal:
    """BTC exposure of ``qty`` at ``price``: linear qty x contract_size; inverse
    contracts x contract_size(USD) / price. Signed like ``qty``. For an instrument of another
    asset it is the exposure in that asset's units (XRP for XRPUSDT)."""
    if spec.kind == "inverse":
        return qty * spec.contract_size / price
    return qty * spec.contract_size


def qty_for_btc(spec: InstrumentSpec, btc: Decimal, price: Decimal) -> Decimal:
    """The (unquantised, signed) quantity in the venue's unit that carries ``btc`` of delta."""
    if spec.kind == "inverse":
        return btc * price / spec.contract_size
    return btc / spec.contract_size


def notional_usd(spec: InstrumentSpec, qty: Decimal, price: Decimal) -> Decimal:
    """Absolute notional in USD/USDT: linear |qty| x cs x price; inverse |qty| x cs."""
    if spec.kind == "inverse":
        return abs(qty) * spec.contract_size
    return abs(qty) * spec.contract_size * price


def qty_for_notional(spec: InstrumentSpec, usd: Decimal, price: Decimal) -> Decimal:
    """Unsigned, unquantised quantity whose notional is ``usd`` at ``price``."""
    if spec.kind == "inverse":
        return usd / spec.contract_size
    return usd / (spec.contract_size * price)


def price_pnl(spec: InstrumentSpec, qty: Decimal, entry: Decimal, exit_: Decimal) -> Decimal:
    """PnL in the settle currency of holding ``qty`` from ``entry`` to ``exit_``.

    Linear: qty x cs x (exit - entry). Inverse: qty x cs x (1/entry - 1/exit); e.g. short
    10,000 XBTUSD from 50,000 to 55,000 = -0.0181818 XBT (HAZARDS H5).
    """
    if spec.kind == "inverse":
        return qty * spec.contract_size * (1 / entry - 1 / exit_)
    return qty * spec.contract_size * (exit_ - entry)


def funding_amount(
    spec: InstrumentSpec, position: Decimal, mark: Decimal, rate: Decimal
) -> Decimal:
    """Funding received (> 0) or paid (< 0) by ``position`` at one settlement.

    Linear: -position x cs x mark x rate (USDT). Inverse: -contracts x cs / mark x rate (XBT).
    Short 0.2 BTC, mark 50,000, rate +0.0001 receives 1.00 USDT; long 10,000 XBTUSD at the
    same mark and rate pays 0.00002 XBT (HAZARDS H2).
    """
    if spec.kind == "inverse":
        return -position * spec.contract_size / mark * rate
    return -position * spec.contract_size * mark * rate


def fee_amount(spec: InstrumentSpec, qty: Decimal, price: Decimal, fee_rate: Decimal) -> Decimal:
    """Fee charged (>= 0 for a positive fee rate) in the settle currency."""
    if spec.kind == "inverse":
        return abs(qty) * spec.contract_size / price * fee_rate
    return abs(qty) * spec.contract_size * price * fee_rate


def floor_to_lot(spec: InstrumentSpec, qty: Decimal) -> Decimal:
    """Round an unsigned quantity down to a whole number of lots (never up: an order never
    exceeds what was sized). Keeps the lot's exponent: 0.3 at lot 0.001 is 0.300."""
    lots = (qty / spec.lot).to_integral_value(rounding=ROUND_DOWN)
    return (lots * spec.lot).quantize(spec.lot)


def round_to_tick(spec: InstrumentSpec, price: Decimal, *, up: bool) -> Decimal:
    """Round a price to the tick, up (buys) or down (sells)."""
    ticks = (price / spec.tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return (ticks * spec.tick).quantize(spec.tick)


def wire(value: Decimal) -> str:
    """A Decimal as an order field: plain digits, never an exponent (HAZARDS H10).

    ``wire(Decimal("1.9E-7")) == "0.00000019"``, ``wire(Decimal("0.300")) == "0.300"``.
    """
    return format(value, "f")
