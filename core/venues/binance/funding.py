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

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from core.domain import timeutil
from core.domain.config import FeedSettings
from core.domain.events import FundingSettled
from core.feeds.health import VenueStats
from core.feeds.sink import EventSink, wall_ms
from core.feeds.socket import Log
from core.feeds.together import run_together

VENUE: Final = "binance"
HOUR_MS = 3_600_000
DEFAULT_INTERVAL_MS = 8 * HOUR_MS
SETTLE_POLL_DELAY_MS = 5_000
RETRY_S = 30.0


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


class BinanceFunding:
    """The two REST pollers for ``symbols``. ``client_factory()`` returns a ccxt async
    ``binanceusdm`` (pointed at the configured host); it is closed when :meth:`run` ends."""

    def __init__(
        self,
        symbols: Sequence[str],
        sink: EventSink,
        stats: VenueStats,
        settings: FeedSettings,
        client_factory: Callable[[], Any],
        *,
        next_settlement_ms: Mapping[str, int] | None = None,
        log: Log | None = None,
    ) -> None:
        self.symbols = list(symbols)
        self.sink = sink
        self.stats = stats
        self.cfg = settings
        self.client_factory = client_factory
        self.next_settlement_ms = next_settlement_ms if next_settlement_ms is not None else {}
        self._log = log or (lambda _k, _t: None)
        self.intervals: dict[str, int] | None = None
        self.baseline: dict[str, int] = {}
        self.polls = 0

    def interval_ms(self, symbol: str) -> int | None:
        """The symbol's funding interval (ms); None until fundingInfo was read once."""
        if self.intervals is None:
            return None
        return self.intervals.get(symbol, DEFAULT_INTERVAL_MS)

    async def run(self) -> None:
        """Poll until cancelled."""
        client = self.client_factory()
        try:
            await run_together(self._info_loop(client), self._rate_loop(client))
        finally:
            await client.close()

    async def refresh_intervals(self, client: Any) -> None:
        """Read fundingInfo once."""
        rows = await client.fapiPublicGetFundingInfo()
        intervals = parse_funding_info(rows)
        if self.intervals is not None:
            for s in self.symbols:
                old, new = self.interval_ms(s), intervals.get(s, DEFAULT_INTERVAL_MS)
                if old != new:
                    self._log("alert", f"{VENUE} {s}: funding interval now {new // HOUR_MS} h")
        self.intervals = intervals

    async def poll_settled(self, client: Any) -> list[FundingSettled]:
        """Read recent settlements of every symbol; publish those newer than the baseline."""
        out = []
        for s in self.symbols:
            rows = await client.fapiPublicGetFundingRate({"symbol": s, "limit": 10})
            ts = self.sink.stamp()
            interval = self.interval_ms(s) or DEFAULT_INTERVAL_MS
            parsed = sorted(
                (parse_funding_rate_row(r, ts, interval) for r in rows), key=lambda p: p[0]
            )
            parsed = [p for p in parsed if p[1].symbol == s]
            if s not in self.baseline:
                self.baseline[s] = parsed[-1][0] if parsed else 0
                continue
            for when, ev in parsed:
                if when > self.baseline[s]:
                    self.baseline[s] = when
                    self.sink.publish(ev)
                    out.append(ev)
        self.polls += 1
        return out

    async def _info_loop(self, client: Any) -> None:
        while True:
            try:
                await self.refresh_intervals(client)
                delay = self.cfg.funding_info_refresh_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # network, ccxt or bad rows: counted, said, retried
                self._failed("fundingInfo", exc)
                delay = min(RETRY_S, self.cfg.funding_info_refresh_s)
            await asyncio.sleep(delay)

    async def _rate_loop(self, client: Any) -> None:
        while True:
            try:
                await self.poll_settled(client)
                delay = self._next_poll_s()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed("fundingRate", exc)
                delay = min(RETRY_S, self.cfg.funding_rate_poll_s)
            await asyncio.sleep(delay)

    def _next_poll_s(self) -> float:
        delay = self.cfg.funding_rate_poll_s
        now = wall_ms()
        for t in self.next_settlement_ms.values():
            due = (t + SETTLE_POLL_DELAY_MS - now) / 1000
            if 0 < due < delay:
                delay = due
        return delay

    def _failed(self, what: str, exc: Exception) -> None:
        self.stats.parse_errors += isinstance(exc, ValueError)
        self.stats.last_error = f"{what}: {type(exc).__name__}: {exc}"
        self._log("alert", f"{VENUE} REST {what} failed: {type(exc).__name__}: {exc}")
