"""Order intents, fills and rejections, and deterministic client order ids.

An intent is what the strategy, hedger or risk gate wants sent; a fill or a rejection is what
the venue answered. Quantities are unsigned Decimals in the venue's unit (BTC or contracts),
already quantised to the lot; ``side`` gives the direction. Every unwind, flatten and kill
intent has ``reduce_only=True``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Side = Literal["buy", "sell"]

#: Binance ``newClientOrderId`` / BitMEX ``clOrdID`` constraint kept for both venues.
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """One logical order. ``purpose``: entry, ladder, hedge, exit, flatten, kill, unwind."""

    client_order_id: str
    pair: str
    venue: str
    symbol: str
    side: Side
    qty: Decimal
    reduce_only: bool
    purpose: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Fill:
    """An execution. ``price`` in quote currency, ``fee`` in ``fee_currency`` (>= 0 paid)."""

    client_order_id: str
    pair: str
    venue: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    reduce_only: bool
    purpose: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """The venue (or the risk gate) refused an intent; ``reason`` says why."""

    client_order_id: str
    venue: str
    symbol: str
    reason: str
    ts_ms: int


class ClientOrderIds:
    """Deterministic client order ids: ``<prefix>-<pair>-<venue3>-<purpose2>-<seq>``.

    ``seq`` counts logical orders of this engine run, so a replay of the same events yields
    the same ids, and a retry of one logical order reuses its id (the caller keeps it).
    Ids are at most 36 characters of ``[A-Za-z0-9_-]`` (HAZARDS H10); anything else in the
    parts is dropped.
    """

    def __init__(self, prefix: str = "arb") -> None:
        self._prefix = _clean(prefix)[:6] or "arb"
        self._seq = 0

    def next(self, pair: str, venue: str, purpose: str) -> str:
        """A new id for one logical order."""
        self._seq += 1
        cid = f"{self._prefix}-{_clean(pair)[:8]}-{venue[:3]}-{purpose[:2]}-{self._seq:07d}"
        assert CLIENT_ID_RE.match(cid), cid
        return cid


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "", text)
