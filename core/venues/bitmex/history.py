"""BitMEX history downloads the importer reads (``arbtui import``); BitMEX closed for good on
2026-09-23, its history stays importable.

Funding: the ``/api/v1/funding`` CSV (``timestamp,symbol,fundingInterval,fundingRate,...``;
ISO times at 04/12/20 UTC, the interval encoded as a date after 2000-01-01T00:00Z,
``2000-01-01T08:00:00Z`` = 8 h, rates written as binary floats such as
``6.900000000000001e-4``). BitMEX fixes each rate one interval before it settles.

Bars: trade bins (``open_time`` in ms, ``open_time_iso``, volume in USD contracts); a bin's
``open`` is the previous bin's ``close`` and may lie outside its own [low, high].
"""

from __future__ import annotations

from decimal import Decimal

from core.domain import timeutil
from core.domain.funding_caps import FundingCap
from core.venues.history import Layout

VENUE = "bitmex"

LAYOUTS: tuple[Layout, ...] = (
    Layout(
        "bitmex_funding",
        VENUE,
        "funding",
        "csv",
        ("timestamp", "symbol", "fundingInterval", "fundingRate"),
        time="timestamp",
        interval="fundingInterval",
        interval_kind="column",
        interval_ms=timeutil.bitmex_interval_ms,
        rate="fundingRate",
        rate_is_float=True,
        fixed_ahead=True,
        symbol="symbol",
    ),
    Layout(
        "bitmex_bins",
        VENUE,
        "bars",
        "csv",
        ("open_time", "open_time_iso", "open", "high", "low", "close", "volume_contracts_usd"),
        time="open_time",
        iso_time="open_time_iso",
        volume="volume_contracts_usd",
    ),
)
"""BitMEX download layouts, in detection order."""

CAPS: tuple[FundingCap, ...] = (
    FundingCap(
        "XBTUSD", Decimal("0.00375"), 8 * timeutil.HOUR_MS,
        "March 2020: six settlements in a row at -0.375 %, its cap (shared data README); a "
        "daily settlement of May 2016 reached 0.7046 %, within three times it (tests/data)",
    ),
)  # fmt: skip
"""Funding caps the importer checks rates against (a symbol not listed is not checked)."""
