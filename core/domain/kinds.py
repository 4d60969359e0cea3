"""Names of record kinds, shared by the audit log, the file log and the metrics."""

from __future__ import annotations

from core.domain.ledger import FundingPayment
from core.domain.orders import Fill, OrderIntent, Rejection
from core.domain.records import (
    AlertRaised,
    CommandReceived,
    ErrorRaised,
    MarketObserved,
    PairAdded,
    PairAdopted,
    PairArmed,
    PairRemoved,
    PositionMismatch,
    StateChanged,
    VenueFundingReported,
)
from core.domain.venue import OrderUpdate

KINDS: dict[type, str] = {
    OrderIntent: "order_intent",
    Fill: "fill",
    Rejection: "rejection",
    FundingPayment: "funding",
    StateChanged: "state",
    CommandReceived: "command",
    AlertRaised: "alert",
    ErrorRaised: "error",
    MarketObserved: "market",
    OrderUpdate: "order_update",
    VenueFundingReported: "venue_funding",
    PositionMismatch: "position_mismatch",
    PairAdopted: "pair_adopted",
    PairAdded: "pair_added",
    PairArmed: "pair_armed",
    PairRemoved: "pair_removed",
}
"""Record type -> the ``kind`` of its audit row and file-log line."""


def kind_of(obj: object) -> str:
    """The kind of a record (an unknown type: its class name in lower case)."""
    return KINDS.get(type(obj)) or type(obj).__name__.lower()
