"""Hand-written fakes of an exchange for fault cases the paper venue never produces.

``FlakyVenue`` behaves like the paper venue but answers chosen orders with a rejection first,
as a real venue does when margin is short or a request times out (HAZARDS H11).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.orders import Fill, OrderIntent, Rejection
from core.paper import PaperVenue


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
