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

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Final

from core.domain import timeutil
from core.domain.config import FeedSettings
from core.domain.events import FundingSettled
from core.feeds.funding_poller import DEFAULT_INTERVAL_MS, SettledRatePoller
from core.feeds.health import VenueStats
from core.feeds.sink import EventSink, wall_ms
from core.feeds.socket import Log
from core.venues.bybit.specs import parse_instruments

VENUE: Final = "bybit"
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


class BybitFunding(SettledRatePoller):
    """The REST pollers for ``instruments`` (symbol -> ``linear``/``inverse``;
    :class:`~core.feeds.funding_poller.SettledRatePoller`). ``client_factory()`` returns a ccxt
    async ``bybit`` pointed at the configured host. ``intervals`` (ms) and ``caps`` ((lower,
    upper) fractions) come from instruments-info."""

    venue = VENUE
    info_name = "instruments-info"
    rate_name = "funding/history"

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
        super().__init__(
            list(instruments),
            sink,
            stats,
            settings,
            client_factory,
            next_settlement_ms=next_settlement_ms,
            log=log,
        )
        self.instruments = dict(instruments)
        self.caps: dict[str, tuple[Decimal | None, Decimal | None]] = {}
        self.status: dict[str, str] = {}
        """instruments-info ``status`` per symbol (an alert when it is not ``Trading``)."""
        self.info_reads = 0

    def add_instruments(self, instruments: Mapping[str, str]) -> None:
        """Poll ``instruments`` (symbol -> ``linear``/``inverse``) too from now on (a pair
        added at run time); read at once (:meth:`SettledRatePoller.add_symbols`)."""
        self.instruments.update(instruments)
        self.add_symbols(list(instruments))

    async def refresh_intervals(self, client: Any) -> None:
        """Read instruments-info for every kind in use (one request per symbol)."""
        for symbol, kind in list(self.instruments.items()):
            body = await client.public_get_v5_market_instruments_info(
                {"category": kind, "symbol": symbol}
            )
            rows, _ = parse_instruments(body, kind)
            info = next((r for r in rows if r.symbol == symbol), None)
            if info is None:
                raise ValueError(f"instruments-info {kind} does not list {symbol}")
            self.set_interval(symbol, info.funding_interval_ms or DEFAULT_INTERVAL_MS)
            self.caps[symbol] = (info.lower_rate, info.upper_rate)
            if info.status != "Trading" and self.status.get(symbol) != info.status:
                self._log("alert", f"{VENUE} {symbol}: instrument status {info.status!r}")
            self.status[symbol] = info.status
        self.info_reads += 1

    async def fetch_settled(
        self, client: Any, symbol: str, interval_ms: int
    ) -> list[tuple[int, FundingSettled]]:
        """The last ``HISTORY_ROWS`` funding/history rows of ``symbol`` (always with an end
        time: ``startTime`` alone is an error at Bybit)."""
        if client.markets is None:
            await client.load_markets()
        unified = _unified(client, symbol, self.instruments[symbol])
        rows = await client.fetch_funding_rate_history(
            unified, None, HISTORY_ROWS, {"until": wall_ms()}
        )
        ts = self.sink.stamp()
        return [parse_funding_row(r["info"], ts, interval_ms) for r in rows]


def _unified(client: Any, symbol: str, kind: str) -> str:
    """ccxt's unified symbol of the exchange id ``symbol`` in category ``kind``."""
    for m in client.markets_by_id.get(symbol, []):
        if m.get(kind):
            return str(m["symbol"])
    raise ValueError(f"ccxt bybit lists no {kind} market {symbol}")
