"""Binance USD-M funding over REST: intervals from ``GET /fapi/v1/fundingInfo`` and settled
rates from ``GET /fapi/v1/fundingRate``, through ccxt's implicit endpoints.

Wire format (Binance "USDⓈ-M Futures": "Get Funding Rate Info", "Get Funding Rate History"):
fundingInfo lists only symbols whose funding was adjusted, each with ``fundingIntervalHours``;
a symbol absent from it is on 8 h (DESIGN). fundingRate rows are ``symbol``, ``fundingTime``
(ms, with a few ms of jitter), ``fundingRate`` and ``markPrice`` (strings; ``""`` = missing).

Settled rates: the rows present at the first successful read are history and only set the
baseline (a historical settlement must never be charged on a position held now); every later
row is published once as :class:`~core.domain.events.FundingSettled` when it is seen, with the
venue's
settlement mark. The settled-rate poll runs every ``funding_rate_poll_s`` and a few seconds
after each settlement time ``T`` the markPrice stream announced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

from core.domain import timeutil
from core.domain.events import FundingSettled
from core.feeds.funding_poller import DEFAULT_INTERVAL_MS, HOUR_MS, SettledRatePoller

VENUE: Final = "binance"


def parse_funding_info(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``fundingInfo`` rows -> {symbol: interval_ms}. Raises ValueError naming the row and
    field on a bad one."""
    out: dict[str, int] = {}
    for i, row in enumerate(rows):
        try:
            symbol = str(row["symbol"])
            hours = int(row["fundingIntervalHours"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"fundingInfo row {i}: {type(exc).__name__}: {exc}") from None
        if not 0 < hours <= 24:
            raise ValueError(f"fundingInfo row {i}: fundingIntervalHours {hours} out of range")
        out[symbol] = hours * HOUR_MS
    return out


def parse_funding_rate_row(
    row: Mapping[str, Any], ts_ms: int, interval_ms: int
) -> tuple[int, FundingSettled]:
    """One ``fundingRate`` row -> (fundingTime ms, the settlement stamped ``ts_ms``).
    Raises ValueError naming the field."""
    try:
        funding_time = int(row["fundingTime"])
        raw_rate = str(row["fundingRate"])
        rate = Decimal(raw_rate)
        raw_mark = str(row.get("markPrice") or "")
        mark = Decimal(raw_mark) if raw_mark else None
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"fundingRate row {dict(row)!r}: {type(exc).__name__}: {exc}") from None
    if not rate.is_finite() or (mark is not None and not mark > 0):
        raise ValueError(f"fundingRate row {dict(row)!r}: rate or markPrice out of range")
    ev = FundingSettled(
        ts_ms=ts_ms,
        venue=VENUE,
        symbol=str(row["symbol"]),
        rate=rate,
        interval_ms=interval_ms,
        mark_price=mark,
        raw_ts=str(funding_time),
        raw_rate=raw_rate,
        settlement_ts_ms=timeutil.normalise_settlement_ms(funding_time),
    )
    return funding_time, ev


class BinanceFunding(SettledRatePoller):
    """The two REST pollers for ``symbols`` (:class:`~core.feeds.funding_poller.SettledRatePoller`);
    ``client_factory()`` returns a ccxt async ``binanceusdm`` pointed at the configured host."""

    venue = VENUE
    info_name = "fundingInfo"
    rate_name = "fundingRate"

    async def refresh_intervals(self, client: Any) -> None:
        """Read fundingInfo once (a symbol absent from it is on 8 h)."""
        intervals = parse_funding_info(await client.fapiPublicGetFundingInfo())
        for s in self.symbols:
            self.set_interval(s, intervals.get(s, DEFAULT_INTERVAL_MS))

    async def fetch_settled(
        self, client: Any, symbol: str, interval_ms: int
    ) -> list[tuple[int, FundingSettled]]:
        """The last 10 ``fundingRate`` rows of ``symbol``."""
        rows = await client.fapiPublicGetFundingRate({"symbol": symbol, "limit": 10})
        ts = self.sink.stamp()
        return [parse_funding_rate_row(r, ts, interval_ms) for r in rows]
