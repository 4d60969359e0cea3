"""Bybit v5 funding over REST: intervals from ``GET /v5/market/instruments-info`` and settled
rates from ``GET /v5/market/funding/history``, through ccxt 4.5.90 ``bybit``.

Wire format (Bybit docs ``market/instrument``, ``market/history-fund-rate``): instruments-info
gives ``fundingInterval`` in **minutes** (480 = 8 h) and the caps ``upperFundingRate`` /
``lowerFundingRate``; it is read with ccxt's documented implicit method
``public_get_v5_market_instruments_info``. funding/history rows are ``symbol``,
``fundingRate`` (string) and ``fundingRateTimestamp`` (ms, string); they are read with ccxt's
unified ``fetch_funding_rate_history`` (markets loaded for linear and inverse only), always
with an end time (``until`` -> ``endTime``): ``startTime`` alone is an error at Bybit. The rate
is taken from the row's own string (``info``), never from ccxt's float.

Settled rates: the rows present at the first successful read are history and only set the
baseline; every later row is published once as :class:`~core.domain.events.FundingSettled`
(without a settlement mark: the engine uses its latest mark). Polled every
``funding_rate_poll_s`` and a few seconds after each ``nextFundingTime`` the ticker announced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

from core.domain import timeutil
from core.domain.config import FeedSettings
from core.domain.events import FundingSettled
from core.feeds.health import VenueStats
from core.feeds.sink import EventSink, wall_ms
from core.feeds.socket import Log
from core.feeds.together import run_together
from core.venues.bybit.specs import parse_instruments

VENUE: Final = "bybit"
HOUR_MS: Final = 3_600_000
DEFAULT_INTERVAL_MS: Final = 8 * HOUR_MS
SETTLE_POLL_DELAY_MS: Final = 5_000
RETRY_S: Final = 30.0
HISTORY_ROWS: Final = 10


def parse_funding_row(
    row: Mapping[str, Any], ts_ms: int, interval_ms: int
) -> tuple[int, FundingSettled]:
    """One funding/history row -> (fundingRateTimestamp ms, the settlement stamped ``ts_ms``).
    Raises ValueError naming the row."""
    try:
        when = int(row["fundingRateTimestamp"])
        raw_rate = str(row["fundingRate"])
        rate = Decimal(raw_rate)
        symbol = str(row["symbol"])
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(
            f"funding/history row {dict(row)!r}: {type(exc).__name__}: {exc}"
        ) from None
    if not rate.is_finite():
        raise ValueError(f"funding/history row {dict(row)!r}: rate {raw_rate!r}")
    ev = FundingSettled(
        ts_ms=ts_ms,
        venue=VENUE,
        symbol=symbol,
        rate=rate,
        interval_ms=interval_ms,
        raw_ts=str(when),
        raw_rate=raw_rate,
        settlement_ts_ms=timeutil.normalise_settlement_ms(when),
    )
    return when, ev


class BybitFunding:
    """The REST pollers for ``instruments`` (symbol -> ``linear``/``inverse``).
    ``client_factory()`` returns a ccxt async ``bybit`` (pointed at the configured host); it is
    closed when :meth:`run` ends. ``intervals`` (ms) and ``caps`` ((lower, upper) fractions)
    come from instruments-info."""

    def __init__(
        self,
        instruments: Mapping[str, str],
        sink: EventSink,
        stats: VenueStats,
        settings: FeedSettings,
        client_factory: Callable[[], Any],
        *,
        next_settlement_ms: Mapping[str, int] | None = None,
        log: Log | None = None,
    ) -> None:
        self.instruments = dict(instruments)
        self.sink = sink
        self.stats = stats
        self.cfg = settings
        self.client_factory = client_factory
        self.next_settlement_ms = next_settlement_ms if next_settlement_ms is not None else {}
        self._log = log or (lambda _k, _t: None)
        self.intervals: dict[str, int] = {}
        self.caps: dict[str, tuple[Decimal | None, Decimal | None]] = {}
        self.status: dict[str, str] = {}
        """instruments-info ``status`` per symbol (an alert when it is not ``Trading``)."""
        self.baseline: dict[str, int] = {}
        self.polls = 0
        self.info_reads = 0

    def interval_ms(self, symbol: str) -> int | None:
        """The symbol's funding interval (ms) from instruments-info; None until read."""
        return self.intervals.get(symbol)

    async def run(self) -> None:
        """Poll until cancelled."""
        client = self.client_factory()
        try:
            await run_together(self._info_loop(client), self._rate_loop(client))
        finally:
            await client.close()

    async def refresh_intervals(self, client: Any) -> None:
        """Read instruments-info for every kind in use (one request per symbol)."""
        for symbol, kind in self.instruments.items():
            body = await client.public_get_v5_market_instruments_info(
                {"category": kind, "symbol": symbol}
            )
            rows, _ = parse_instruments(body, kind)
            info = next((r for r in rows if r.symbol == symbol), None)
            if info is None:
                raise ValueError(f"instruments-info {kind} does not list {symbol}")
            new = info.funding_interval_ms or DEFAULT_INTERVAL_MS
            old = self.intervals.get(symbol)
            if old is not None and old != new:
                self._log("alert", f"{VENUE} {symbol}: funding interval now {new // HOUR_MS} h")
            self.intervals[symbol] = new
            self.caps[symbol] = (info.lower_rate, info.upper_rate)
            if info.status != "Trading" and self.status.get(symbol) != info.status:
                self._log("alert", f"{VENUE} {symbol}: instrument status {info.status!r}")
            self.status[symbol] = info.status
        self.info_reads += 1

    async def poll_settled(self, client: Any) -> list[FundingSettled]:
        """Read recent settlements of every symbol; publish those newer than the baseline."""
        if client.markets is None:
            await client.load_markets()
        out = []
        for symbol, kind in self.instruments.items():
            unified = _unified(client, symbol, kind)
            rows = await client.fetch_funding_rate_history(
                unified, None, HISTORY_ROWS, {"until": wall_ms()}
            )
            ts = self.sink.stamp()
            interval = self.interval_ms(symbol) or DEFAULT_INTERVAL_MS
            parsed = sorted(
                (parse_funding_row(r["info"], ts, interval) for r in rows), key=lambda p: p[0]
            )
            parsed = [p for p in parsed if p[1].symbol == symbol]
            if symbol not in self.baseline:
                self.baseline[symbol] = parsed[-1][0] if parsed else 0
                continue
            for when, ev in parsed:
                if when > self.baseline[symbol]:
                    self.baseline[symbol] = when
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
                self._failed("instruments-info", exc)
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
                self._failed("funding/history", exc)
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


def _unified(client: Any, symbol: str, kind: str) -> str:
    """ccxt's unified symbol of the exchange id ``symbol`` in category ``kind``."""
    for m in client.markets_by_id.get(symbol, []):
        if m.get(kind):
            return str(m["symbol"])
    raise ValueError(f"ccxt bybit lists no {kind} market {symbol}")
