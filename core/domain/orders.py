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
    """Deterministic client order ids: ``<prefix><run_tag>-<pair>-<venue3>-<purpose2>-<seq>``.

    ``seq`` counts logical orders of this engine run, so a replay of the same events yields
    the same ids, and a retry of one logical order reuses its id (the caller keeps it).
    ``run_tag`` (live and paper: the run's start time in base 36) keeps the ids of one run
    apart from an earlier run's, which a venue could otherwise take for the old order.
    Ids are at most 36 characters of ``[A-Za-z0-9_-]`` (HAZARDS H10); anything else in the
    parts is dropped.
    """

    def __init__(self, prefix: str = "arb", run_tag: str = "") -> None:
        self._prefix = (_clean(prefix)[:5] or "arb") + _clean(run_tag)[:7]
        self._seq = 0

    def next(self, pair: str, venue: str, purpose: str) -> str:
        """A new id for one logical order."""
        self._seq += 1
        cid = f"{self._prefix}-{_clean(pair)[:8]}-{venue[:3]}-{purpose[:2]}-{self._seq:07d}"
        assert CLIENT_ID_RE.match(cid), cid
        return cid


def run_tag(epoch_s: int) -> str:
    """A short tag for one run: ``epoch_s`` in base 36 (7 characters until the year 4453)."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while epoch_s:
        epoch_s, r = divmod(epoch_s, 36)
        out = digits[r] + out
    return out or "0"


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "", text)
