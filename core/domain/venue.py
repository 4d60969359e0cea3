"""The execution-venue interface: what the engine needs of an exchange, paper or real.

Venue code stays behind this one small interface so either venue's client can be replaced on
its own (DESIGN "Execution"). The paper venue (:mod:`core.engine.paper`) answers synchronously; live
venues implement :class:`core.execution.venue.ExecutionVenue` and report through
:class:`OrderUpdate` values that the engine applies with ``Engine.on_order_update``.

Status model (one logical order = one client order id)::

    NEW -> ACCEPTED -> PARTIALLY_FILLED -> FILLED
       \\-> REJECTED      \\-> CANCELLED
    UNKNOWN: the venue's answer was lost (timeout, 5xx): query by client order id before any
    resubmit; a resubmit reuses the same id; a duplicate-id rejection means "already placed".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from core.domain.errors import ArbtuiError
from core.domain.orders import Fill


class OrderStatus(StrEnum):
    """Life-cycle state of one order."""

    NEW = "new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"

    @property
    def final(self) -> bool:
        """True for FILLED, CANCELLED and REJECTED."""
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED)


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """What a venue said about one order. ``filled_qty`` is cumulative (venue's unit);
    ``fill`` is the execution this update reports, if any (one update per execution);
    ``reason`` is the venue's text for a rejection; ``raw`` the exchange's own string."""

    client_order_id: str
    venue: str
    symbol: str
    status: OrderStatus
    filled_qty: Decimal
    ts_ms: int
    fill: Fill | None = None
    reason: str = ""
    raw: str = ""


class PositionUnknown(ArbtuiError):
    """The venue's position could not be read; no close may be sent meanwhile (HAZARDS H8)."""
