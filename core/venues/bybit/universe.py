"""Bybit v5's scanner universe: every linear and inverse perpetual it trades, with its
estimate, interval, caps, specs, 24 h volume and open interest, and each symbol's settled-rate
history, through ccxt 4.5.90 ``bybit``'s documented implicit endpoint methods (nothing of ccxt
is overridden; the host is moved only by :func:`core.venues.instruments.point_at`).

Endpoints (Bybit docs, ``docs/v5/``; every answer ``{"retCode": 0, "result": {...}}``):

- ``GET /v5/market/instruments-info?category=linear|inverse&limit=1000&cursor=``
  (``public_get_v5_market_instruments_info``, ``market/instrument``): ``contractType``
  (``LinearPerpetual`` / ``InversePerpetual`` kept; futures dropped), ``status`` (``Trading``
  kept), ``baseCoin``, ``quoteCoin``, ``settleCoin``, ``fundingInterval`` (**minutes**),
  ``upperFundingRate`` / ``lowerFundingRate``, ``priceFilter.tickSize``,
  ``lotSizeFilter.qtyStep`` / ``minOrderQty`` / ``minNotionalValue``
  (:func:`core.venues.bybit.specs.parse_instrument` reads them). Paged by ``nextPageCursor``.
- ``GET /v5/market/tickers?category=linear|inverse`` (``public_get_v5_market_tickers``,
  ``market/tickers``): ``markPrice``, ``indexPrice``, ``fundingRate`` (the estimate for
  ``nextFundingTime``, ms as a string), ``fundingIntervalHour`` (hours; newer answers only,
  preferred over instruments-info when present), ``fundingCap`` (the ± limit; newer only),
  and in USD: linear ``turnover24h`` (quote) and ``openInterestValue`` (quote); inverse
  ``volume24h`` and ``openInterest`` (contracts of 1 USD; ``turnover24h`` and
  ``openInterestValue`` are in the coin there).
- ``GET /v5/market/funding/history?category=&symbol=&startTime=&endTime=&limit=200``
  (``public_get_v5_market_funding_history``, ``market/history-fund-rate``): rows ``fundingRate``
  and ``fundingRateTimestamp`` (ms, string), newest first; always sent with an end time.

Fees: :data:`TAKER_FEE` (base tier, DESIGN / BYBIT.md: taker 0.055 %) unless the caller passes
the account's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final

from core.domain import timeutil
from core.domain.config import FeedSettings
from core.domain.universe import Kind, Perp
from core.venues.bybit.specs import InstrumentInfo, make_exchange, parse_instrument
from core.venues.universe import field, num, opt_num, settled_rates

VENUE: Final = "bybit"
TAKER_FEE: Final = 0.00055
KINDS: Final[tuple[Kind, ...]] = ("linear", "inverse")
PERPETUAL: Final = {"linear": "LinearPerpetual", "inverse": "InversePerpetual"}
MAX_PAGES: Final = 20
HISTORY_LIMIT: Final = 200


def result_list(body: Any, what: str) -> tuple[list[Mapping[str, Any]], str]:
    """(``result.list``, ``result.nextPageCursor``) of a v5 answer. Raises ValueError naming
    ``what`` on a non-zero ``retCode`` or a missing ``result.list``."""
    if not isinstance(body, Mapping):
        raise ValueError(f"{what}: expected a JSON object, got {type(body).__name__}")
    code = body.get("retCode")
    if code not in (0, "0"):
        raise ValueError(f"{what}: retCode {code} {body.get('retMsg')!r}")
    result = body.get("result")
    rows = result.get("list") if isinstance(result, Mapping) else None
    if not isinstance(rows, list):
        raise ValueError(f"{what}: field 'result.list' missing")
    assert isinstance(result, Mapping)
    return rows, str(result.get("nextPageCursor") or "")


def parse_perpetuals(
    rows: list[Mapping[str, Any]], kind: Kind
) -> dict[str, tuple[InstrumentInfo, str]]:
    """instruments-info rows -> {symbol: (spec fields, baseCoin)} of the perpetuals in
    ``Trading``."""
    out = {}
    for row in rows:
        if row.get("contractType") != PERPETUAL[kind] or row.get("status") != "Trading":
            continue
        info = parse_instrument(row, kind)
        base = str(field(row, "baseCoin", f"instruments-info {kind} {info.symbol}"))
        out[info.symbol] = (info, base)
    return out


def build_perps(
    instruments: Mapping[str, tuple[InstrumentInfo, str]],
    tickers: list[Mapping[str, Any]],
    kind: Kind,
    taker_fee: float = TAKER_FEE,
) -> list[Perp]:
    """One :class:`Perp` per ticker row of a trading perpetual of ``kind``. Raises ValueError
    naming the symbol and field."""
    out = []
    for i, row in enumerate(tickers):
        symbol = str(field(row, "symbol", f"tickers {kind} row {i}"))
        found = instruments.get(symbol)
        if found is None:
            continue
        info, base = found
        where = f"tickers {kind} {symbol}"
        hours = opt_num(row, "fundingIntervalHour", where)
        if hours is None:
            if info.funding_interval_ms is None:
                raise ValueError(
                    f"instruments-info {kind} {symbol}: field 'fundingInterval' missing"
                )
            hours = info.funding_interval_ms / timeutil.HOUR_MS
        if not 0 < hours <= 24:
            raise ValueError(f"{where}: funding interval {hours} h out of range")
        cap_t = opt_num(row, "fundingCap", where)
        cap = cap_t if cap_t is not None else _f(info.upper_rate)
        floor = -cap_t if cap_t is not None else _f(info.lower_rate)
        mark = num(row, "markPrice", where)
        if not mark > 0:
            raise ValueError(f"{where}: field 'markPrice' is {mark}, not > 0")
        next_ms = opt_num(row, "nextFundingTime", where)
        if kind == "linear":
            volume = opt_num(row, "turnover24h", where)
            oi = opt_num(row, "openInterestValue", where)
        else:
            volume = opt_num(row, "volume24h", where)
            oi = opt_num(row, "openInterest", where)
        out.append(
            Perp(
                venue=VENUE,
                symbol=symbol,
                base=base,
                quote=info.quote,
                settle=info.settle_currency,
                kind=kind,
                mark=mark,
                index=opt_num(row, "indexPrice", where),
                next_rate=num(row, "fundingRate", where),
                next_funding_ms=int(next_ms) if next_ms else None,
                interval_h=hours,
                cap=cap,
                floor=floor,
                tick=info.tick,
                lot=info.lot,
                min_qty=info.min_qty,
                min_notional=info.min_notional,
                taker_fee=taker_fee,
                volume_24h_usd=volume,
                open_interest_usd=oi,
            )
        )
    return out


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def parse_settled(body: Any, symbol: str) -> list[tuple[int, float]]:
    """funding/history answer -> (settlement ms snapped to the whole hour, rate) of
    ``symbol``."""
    what = f"funding/history {symbol}"
    rows, _ = result_list(body, what)
    return settled_rates(rows, symbol, "fundingRateTimestamp", what)


class BybitUniverse:
    """:class:`core.venues.universe.UniverseSource` of Bybit v5 (linear and inverse) over ccxt
    ``bybit`` at ``feeds.bybit_rest_url``."""

    venue = VENUE

    def __init__(self, feeds: FeedSettings, taker_fee: float | None = None) -> None:
        self.client: Any = make_exchange(feeds, asynchronous=True)
        self.taker_fee = TAKER_FEE if taker_fee is None else taker_fee

    async def _instruments(self, kind: Kind) -> dict[str, tuple[InstrumentInfo, str]]:
        out: dict[str, tuple[InstrumentInfo, str]] = {}
        cursor = ""
        for _ in range(MAX_PAGES):
            req: dict[str, Any] = {"category": kind, "limit": 1000}
            if cursor:
                req["cursor"] = cursor
            body = await self.client.public_get_v5_market_instruments_info(req)
            rows, cursor = result_list(body, f"instruments-info {kind}")
            out.update(parse_perpetuals(rows, kind))
            if not cursor or not rows:
                break
        return out

    async def _kind(self, kind: Kind) -> list[Perp]:
        instruments, tickers = await asyncio.gather(
            self._instruments(kind),
            self.client.public_get_v5_market_tickers({"category": kind}),
        )
        rows, _ = result_list(tickers, f"tickers {kind}")
        return build_perps(instruments, rows, kind, self.taker_fee)

    async def read(self) -> list[Perp]:
        """instruments-info and tickers of both categories, read concurrently."""
        parts = await asyncio.gather(*(self._kind(k) for k in KINDS))
        return [p for part in parts for p in part]

    async def settled(self, perp: Perp, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        """Settled rates of ``perp`` in [start_ms, end_ms] (one request, up to 200 rows)."""
        body = await self.client.public_get_v5_market_funding_history(
            {
                "category": perp.kind,
                "symbol": perp.symbol,
                "startTime": start_ms,
                "endTime": end_ms,
                "limit": HISTORY_LIMIT,
            }
        )
        return parse_settled(body, perp.symbol)

    async def close(self) -> None:
        await self.client.close()
