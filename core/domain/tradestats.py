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
from core.domain.ledger import Key, TradeRecord


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
