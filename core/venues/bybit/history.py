"""Bybit (v5) history downloads the importer reads (``arbtui import``).

The AHA-HH/optimising-funding-rate-arbitrage series (``data/all_exchanges.csv``, built by its
author with ccxt; shared data README, section Bybit), for linear (BTCUSDT: qty in BTC, paid
in USDT) and inverse (BTCUSD: 1 contract = 1 USD, paid in BTC) perpetuals alike:

- funding ``funding_time,funding_time_iso,funding_rate``: the rate settled **at**
  ``funding_time`` (00/08/16 UTC for 8 h symbols; the interval is the gap between
  settlements, per record);
- 8 h bars ``label_time,label_time_iso,...,bar_start_inferred,bar_start_inferred_iso,open,
  high,low,close,volume,funding_rate_at_label_time``: a Bybit bar labelled ``t`` covers
  **[t - 4 h, t + 4 h)** (measured against 1 h closes; ``bar_start_inferred`` states it), so
  it is known at t + 4 h, not at its label. Volume is in BTC (linear: base volume; inverse:
  turnover). The funding column of the bars is the funding file's and is not read here.
"""

from __future__ import annotations

from decimal import Decimal

from core.domain import timeutil
from core.domain.funding_caps import FundingCap
from core.venues.history import Layout, aha_bars, aha_funding

VENUE = "bybit"

LAYOUTS: tuple[Layout, ...] = (
    aha_funding(VENUE),
    aha_bars(VENUE, label_at="middle"),
)
"""Bybit download layouts, in detection order."""

CAPS: tuple[FundingCap, ...] = (
    FundingCap(
        "BTCUSDT", Decimal("0.00375"), 8 * timeutil.HOUR_MS,
        "GET /v5/market/instruments-info upperFundingRate 0.00375 / lowerFundingRate -0.00375 "
        "(docs market/instrument.mdx, BTCUSDT example; BYBIT.md)",
    ),
)  # fmt: skip
"""Funding caps the importer checks rates against (a symbol not listed is not checked; the
live ticker carries each symbol's own ``fundingCap``)."""
