"""Paper venue: fills market orders at the current price with taker fee and slippage.

It keeps its own view of positions (as an exchange does), so a reduce-only order is clipped to
the position and rejected when there is nothing to reduce: a close can never open exposure
(HAZARDS H8). Prices are Decimal, rounded to the tick against the taker.
"""

from __future__ import annotations

from decimal import Decimal

from core.domain.contracts import ZERO, fee_amount, round_to_tick
from core.domain.events import InstrumentSpec
from core.domain.orders import Fill, OrderIntent, Rejection


class PaperVenue:
    """Simulated execution for every instrument in ``specs`` (keyed by (venue, symbol))."""

    def __init__(self, specs: dict[tuple[str, str], InstrumentSpec], slippage_bps: float) -> None:
        self.specs = specs
        self.slippage = Decimal(repr(slippage_bps)) / Decimal(10_000)
        self.positions: dict[tuple[str, str], Decimal] = {k: ZERO for k in specs}
        self.orders_seen: set[str] = set()

    def submit(self, intent: OrderIntent, price: Decimal | None) -> Fill | Rejection:
        """Fill ``intent`` at ``price`` (the current price) or reject it with a reason."""
        key = (intent.venue, intent.symbol)
        spec = self.specs.get(key)
        if spec is None:
            return Rejection(intent.client_order_id, *key, "unknown instrument", intent.ts_ms)
        if intent.client_order_id in self.orders_seen:
            return Rejection(
                intent.client_order_id, *key, "duplicate client order id", intent.ts_ms
            )
        if price is None or price <= 0:
            return Rejection(intent.client_order_id, *key, "no price", intent.ts_ms)
        qty = intent.qty
        pos = self.positions[key]
        if intent.reduce_only:
            reducing = (pos > 0 and intent.side == "sell") or (pos < 0 and intent.side == "buy")
            if not reducing:
                return Rejection(
                    intent.client_order_id, *key, "reduce-only order would not reduce", intent.ts_ms
                )
            qty = min(qty, abs(pos))
        self.orders_seen.add(intent.client_order_id)
        up = intent.side == "buy"
        px = price * (1 + self.slippage) if up else price * (1 - self.slippage)
        px = round_to_tick(spec, px, up=up)
        fee = fee_amount(spec, qty, px, spec.taker_fee)
        self.positions[key] = pos + (qty if up else -qty)
        return Fill(
            intent.client_order_id,
            intent.pair,
            intent.venue,
            intent.symbol,
            intent.side,
            qty,
            px,
            fee,
            spec.settle_currency,
            intent.reduce_only,
            intent.purpose,
            intent.ts_ms,
        )
