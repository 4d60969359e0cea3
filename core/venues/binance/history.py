"""Binance USD-M history downloads the importer reads (``arbtui import``).

Funding: the ``/fapi/v1/fundingRate`` REST answer (JSON objects; ``fundingTime`` in ms with a
few ms of jitter, ``fundingRate`` a string with 8 decimals, ``markPrice`` possibly ``""``),
its CSV copy (``funding_time,funding_interval_hours,funding_rate``), the data.binance.vision
and web-export CSV (``calc_time,funding_interval_hours,last_funding_rate``), freqtrade's
funding JSON (``[ts_ms, rate, 0, 0, 0, 0]``) and the AHA-HH/optimising-funding-rate-arbitrage
8 h series (``funding_time,funding_time_iso,funding_rate``, rate settled at that instant).
Binance settles 8 h symbols at 00/08/16 UTC; intervals are per symbol and change (8, 4, 1 h).

Bars: klines (``open_time`` in ms, volume in BTC), freqtrade mark-price klines
(``[ts_ms, o, h, l, c, v]``) and the AHA 8 h bars, whose Binance bar labelled ``t`` covers
[t, t + 8 h) (the file's ``bar_start_inferred`` equals the label; shared data README).
"""

from __future__ import annotations

from decimal import Decimal

from core.domain import timeutil
from core.domain.funding_caps import FundingCap
from core.venues.history import Layout, aha_bars, aha_funding, hours_interval_ms

VENUE = "binance"


def _zero(value: object) -> bool:
    try:
        return isinstance(value, str) and float(value) == 0.0
    except ValueError:
        return False


def _rest_funding(first: object) -> bool:
    return isinstance(first, dict) and {"fundingTime", "fundingRate"} <= first.keys()


def _freqtrade_funding(first: object) -> bool:
    return isinstance(first, list) and len(first) == 6 and all(_zero(v) for v in first[2:])


def _freqtrade_klines(first: object) -> bool:
    return isinstance(first, list) and len(first) == 6 and not _freqtrade_funding(first)


LAYOUTS: tuple[Layout, ...] = (
    Layout(
        "binance_funding_api",
        VENUE,
        "funding",
        "csv",
        ("funding_time", "funding_interval_hours", "funding_rate"),
        time="funding_time",
        interval="funding_interval_hours",
        interval_kind="column",
        interval_ms=hours_interval_ms,
        rate="funding_rate",
    ),
    Layout(
        "binance_funding_vision",
        VENUE,
        "funding",
        "csv",
        ("calc_time", "funding_interval_hours", "last_funding_rate"),
        time="calc_time",
        interval="funding_interval_hours",
        interval_kind="column",
        interval_ms=hours_interval_ms,
        rate="last_funding_rate",
    ),
    Layout(
        "binance_funding_rest",
        VENUE,
        "funding",
        "json_objects",
        ("symbol", "fundingTime", "fundingRate"),
        time="fundingTime",
        shape="Binance fundingRate objects",
        interval_kind="gap",
        rate="fundingRate",
        mark="markPrice",
        symbol="symbol",
        json_match=_rest_funding,
    ),
    Layout(
        "freqtrade_funding",
        VENUE,
        "funding",
        "json_arrays",
        ("time", "rate", "high", "low", "close", "volume"),
        time="time",
        shape="freqtrade funding [ts, rate, 0, 0, 0, 0]",
        interval_kind="gap",
        rate="rate",
        rate_is_float=True,
        json_match=_freqtrade_funding,
    ),
    aha_funding(VENUE),
    Layout(
        "binance_klines",
        VENUE,
        "bars",
        "csv",
        ("open_time", "open", "high", "low", "close", "volume"),
        time="open_time",
        volume="volume",
    ),
    Layout(
        "freqtrade_mark_klines",
        VENUE,
        "bars",
        "json_arrays",
        ("time", "open", "high", "low", "close", "volume"),
        time="time",
        shape="freqtrade klines [ts, o, h, l, c, v]",
        volume="volume",
        json_match=_freqtrade_klines,
    ),
    aha_bars(VENUE, label_at="open"),
)
"""Binance download layouts, in detection order."""

CAPS: tuple[FundingCap, ...] = (
    FundingCap(
        "BTCUSDT", Decimal("0.003"), 8 * timeutil.HOUR_MS,
        "GET /fapi/v1/fundingInfo adjustedFundingRateCap 0.00300 / Floor -0.00300 (2026 "
        "capture); March 2020 touched the -0.30 % floor (shared data README)",
    ),
)  # fmt: skip
"""Funding caps the importer checks rates against (a symbol not listed is not checked)."""
