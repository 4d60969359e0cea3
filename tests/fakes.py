"""Hand-written fakes of an exchange for fault cases the paper venue never produces.

``FlakyVenue`` behaves like the paper venue but answers chosen orders with a rejection first,
as a real venue does when margin is short or a request times out (HAZARDS H11).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from core.domain.contracts import fee_amount
from core.domain.orders import Fill, OrderIntent, Rejection
from core.domain.venue import OrderStatus, OrderUpdate
from core.engine.paper import PaperVenue


class FlakyVenue(PaperVenue):
    """A paper venue that rejects an intent while ``reject(intent, attempt)`` returns a reason.

    ``attempts`` counts submissions per client order id, so a retry with the same id is seen
    as the same logical order.
    """

    def __init__(self, base: PaperVenue, reject: Callable[[OrderIntent, int], str | None]) -> None:
        super().__init__(base.specs, float(base.slippage * 10_000))
        self.reject = reject
        self.attempts: dict[str, int] = {}
        self.submitted: list[OrderIntent] = []

    def submit(self, intent: OrderIntent, price: Decimal | None) -> Fill | Rejection:
        n = self.attempts.get(intent.client_order_id, 0) + 1
        self.attempts[intent.client_order_id] = n
        self.submitted.append(intent)
        why = self.reject(intent, n)
        if why:
            return Rejection(intent.client_order_id, intent.venue, intent.symbol, why, intent.ts_ms)
        return super().submit(intent, price)


class DeferredRouter:
    """A live-like order router: holds intents until the test answers for the exchange.

    ``fill(cid, price)`` and ``reject(cid, reason)`` deliver :class:`OrderUpdate` values to
    the engine exactly as a venue's answer would arrive later; ``cancels`` lists cancel calls.
    """

    def __init__(self) -> None:
        self.engine: Any = None
        self.sent: list[OrderIntent] = []
        self.cancels: list[str] = []
        self.cleared: list[tuple[str, str]] = []

    def submit(self, intent: OrderIntent) -> None:
        self.sent.append(intent)

    def cancel(self, venue: str, symbol: str, client_order_id: str) -> None:
        self.cancels.append(client_order_id)

    def cancel_all(self, venue: str, symbol: str) -> None:
        self.cleared.append((venue, symbol))

    def intent(self, cid: str) -> OrderIntent:
        return next(i for i in self.sent if i.client_order_id == cid)

    def fill(self, cid: str, price: Decimal, qty: Decimal | None = None) -> None:
        i = self.intent(cid)
        spec = self.engine.specs[(i.venue, i.symbol)]
        q = i.qty if qty is None else qty
        fee = fee_amount(spec, q, price, spec.taker_fee)
        fill = Fill(
            cid,
            i.pair,
            i.venue,
            i.symbol,
            i.side,
            q,
            price,
            fee,
            spec.settle_currency,
            i.reduce_only,
            i.purpose,
            self.engine.now,
        )
        status = OrderStatus.FILLED if q == i.qty else OrderStatus.PARTIALLY_FILLED
        self.engine.on_order_update(
            OrderUpdate(cid, i.venue, i.symbol, status, q, self.engine.now, fill=fill)
        )

    def cancel_answer(self, cid: str, reason: str = "") -> None:
        """The venue cancelled ``cid`` with nothing filled."""
        i = self.intent(cid)
        self.engine.on_order_update(
            OrderUpdate(
                cid,
                i.venue,
                i.symbol,
                OrderStatus.CANCELLED,
                Decimal(0),
                self.engine.now,
                reason=reason,
            )
        )

    def reject(self, cid: str, reason: str) -> None:
        i = self.intent(cid)
        self.engine.on_order_update(
            OrderUpdate(
                cid,
                i.venue,
                i.symbol,
                OrderStatus.REJECTED,
                Decimal(0),
                self.engine.now,
                reason=reason,
            )
        )
