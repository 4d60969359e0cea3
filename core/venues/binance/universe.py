"""Binance USD-M's scanner universe: every perpetual it trades, with its estimate, interval,
caps, specs and 24 h volume, and each symbol's settled-rate history, through ccxt 4.5.90
``binanceusdm``'s documented implicit endpoint methods (nothing of ccxt is overridden).

Endpoints (Binance "USDⓈ-M Futures" market-data docs; numbers are strings unless noted):

- ``GET /fapi/v1/exchangeInfo`` (``fapiPublicGetExchangeInfo``), "Exchange Information":
  ``symbols[]`` with ``symbol``, ``contractType`` (``PERPETUAL``, or any type with the
  perpetual ``deliveryDate`` :data:`PERPETUAL_DELIVERY_MS`, is kept), ``status``
  (only ``TRADING``), ``baseAsset``, ``quoteAsset``, ``marginAsset`` and ``filters[]``:
  ``PRICE_FILTER.tickSize``, ``LOT_SIZE.stepSize`` / ``minQty`` (base coin),
  ``MIN_NOTIONAL.notional`` (quote currency).
- ``GET /fapi/v1/premiumIndex`` without a symbol (``fapiPublicGetPremiumIndex``), "Mark
  Price": one row per symbol, ``markPrice``, ``indexPrice``, ``lastFundingRate`` (the live
  estimate for the settlement at ``nextFundingTime``, ms as a JSON number; the same figure as
  the markPrice stream's ``r``), not a settled rate.
- ``GET /fapi/v1/fundingInfo`` (``fapiPublicGetFundingInfo``), "Get Funding Rate Info": only
  the symbols whose funding was adjusted, with ``fundingIntervalHours`` (integer) and
  ``adjustedFundingRateCap`` / ``adjustedFundingRateFloor``; a symbol absent from it is on 8 h
  (DESIGN) and its cap is not published there (None).
- ``GET /fapi/v1/ticker/24hr`` without a symbol (``fapiPublicGetTicker24hr``), "24hr Ticker
  Price Change Statistics": ``quoteVolume`` (quote currency, taken as USD). Open interest is
  only served per symbol, so :meth:`BinanceUniverse.read` leaves it None and the scanner asks
  :meth:`BinanceUniverse.open_interest` for the matched symbols only.
- ``GET /fapi/v1/openInterest?symbol=`` (``fapiPublicGetOpenInterest``, "Open Interest",
  weight 1): ``{"openInterest": "10659.509", "symbol": "BTCUSDT", "time": 1589437530011}``;
  ``openInterest`` in contracts (the base asset as quoted), ``time`` ms as a JSON number.
- ``GET /fapi/v1/fundingRate`` (``fapiPublicGetFundingRate``), "Get Funding Rate History":
  ``symbol``, ``startTime``, ``endTime``, ``limit`` (max 1000); rows ``fundingTime`` (ms, a
  few ms of jitter: snapped to the settlement's whole hour) and ``fundingRate``.

Fees: :data:`TAKER_FEE` (base tier, DESIGN "typical base fees": taker 0.05 %) unless the
caller passes the account's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Final

from core.domain.config import FeedSettings
from core.domain.universe import Perp
from core.venues.binance.plugin import NAME, make_exchange
from core.venues.instruments import dec
from core.venues.universe import VenueBusy, field, num, opt_num, rows_of, settled_rates

TAKER_FEE: Final = 0.0005
DEFAULT_INTERVAL_H: Final = 8.0
HISTORY_LIMIT: Final = 1000
PERPETUAL_DELIVERY_MS: Final = 4133404800000
"""``deliveryDate`` of a perpetual (2100-12-25): ccxt 4.5.90 ``binance.py`` (line 3739) counts
a symbol as a swap on it too, as "some swap markets do not have contract type, eg: BTCST"."""


def _filters(row: Mapping[str, Any], where: str) -> dict[str, Mapping[str, Any]]:
    filters = row.get("filters")
    if not isinstance(filters, list):
        raise ValueError(f"{where}: field 'filters' missing")
    return {str(f.get("filterType")): f for f in filters if isinstance(f, Mapping)}


def parse_exchange_info(body: Any) -> dict[str, dict[str, Any]]:
    """exchangeInfo -> {symbol: spec fields} of the PERPETUAL symbols in TRADING. Raises
    ValueError naming the symbol and field."""
    if not isinstance(body, Mapping) or not isinstance(body.get("symbols"), list):
        raise ValueError("exchangeInfo: field 'symbols' missing")
    out: dict[str, dict[str, Any]] = {}
    for i, row in enumerate(body["symbols"]):
        where = f"exchangeInfo symbols[{i}]"
        symbol = str(field(row, "symbol", where))
        where = f"exchangeInfo {symbol}"
        perpetual = row.get("contractType") == "PERPETUAL" or row.get("deliveryDate") in (
            PERPETUAL_DELIVERY_MS,
            str(PERPETUAL_DELIVERY_MS),
        )
        if not perpetual or row.get("status") != "TRADING":
            continue
        f = _filters(row, where)
        price, lots = f.get("PRICE_FILTER", {}), f.get("LOT_SIZE", {})
        notional = f.get("MIN_NOTIONAL", {})
        out[symbol] = {
            "base": str(field(row, "baseAsset", where)),
            "quote": str(field(row, "quoteAsset", where)),
            "settle": str(row.get("marginAsset") or row["quoteAsset"]),
            "tick": dec(price.get("tickSize"), f"{where}: PRICE_FILTER.tickSize"),
            "lot": dec(lots.get("stepSize"), f"{where}: LOT_SIZE.stepSize"),
            "min_qty": dec(lots.get("minQty"), f"{where}: LOT_SIZE.minQty"),
            "min_notional": dec(notional.get("notional") or 0, f"{where}: MIN_NOTIONAL.notional"),
        }
    return out


def parse_funding_info(body: Any) -> dict[str, tuple[float, float | None, float | None]]:
    """fundingInfo -> {symbol: (interval hours, cap, floor)}. Raises ValueError naming the
    row and field."""
    out = {}
    for i, row in enumerate(rows_of(body, "fundingInfo")):
        where = f"fundingInfo row {i}"
        symbol = str(field(row, "symbol", where))
        hours = num(row, "fundingIntervalHours", f"fundingInfo {symbol}")
        if not 0 < hours <= 24:
            raise ValueError(f"fundingInfo {symbol}: fundingIntervalHours {hours} out of range")
        cap = opt_num(row, "adjustedFundingRateCap", f"fundingInfo {symbol}")
        floor = opt_num(row, "adjustedFundingRateFloor", f"fundingInfo {symbol}")
        out[symbol] = (hours, cap, floor)
    return out


def parse_volumes(body: Any) -> dict[str, float]:
    """ticker/24hr -> {symbol: quoteVolume}."""
    out = {}
    for i, row in enumerate(rows_of(body, "ticker/24hr")):
        symbol = str(field(row, "symbol", f"ticker/24hr row {i}"))
        out[symbol] = num(row, "quoteVolume", f"ticker/24hr {symbol}")
    return out


def build_perps(
    info: Mapping[str, Mapping[str, Any]],
    premium: Any,
    funding: Mapping[str, tuple[float, float | None, float | None]],
    volumes: Mapping[str, float],
    taker_fee: float = TAKER_FEE,
) -> list[Perp]:
    """One :class:`Perp` per premiumIndex row of a trading perpetual (rows of other symbols,
    such as dated futures, are skipped). Raises ValueError naming the symbol and field."""
    out = []
    for i, row in enumerate(rows_of(premium, "premiumIndex")):
        symbol = str(field(row, "symbol", f"premiumIndex row {i}"))
        spec = info.get(symbol)
        if spec is None:
            continue
        where = f"premiumIndex {symbol}"
        hours, cap, floor = funding.get(symbol, (DEFAULT_INTERVAL_H, None, None))
        next_ms = opt_num(row, "nextFundingTime", where)
        mark = num(row, "markPrice", where)
        if not mark > 0:
            raise ValueError(f"{where}: field 'markPrice' is {mark}, not > 0")
        out.append(
            Perp(
                venue=NAME,
                symbol=symbol,
                base=spec["base"],
                quote=spec["quote"],
                settle=spec["settle"],
                kind="linear",
                mark=mark,
                index=opt_num(row, "indexPrice", where),
                next_rate=num(row, "lastFundingRate", where),
                next_funding_ms=None if not next_ms else int(next_ms),
                interval_h=hours,
                cap=cap,
                floor=floor,
                tick=spec["tick"],
                lot=spec["lot"],
                min_qty=spec["min_qty"],
                min_notional=spec["min_notional"],
                taker_fee=taker_fee,
                volume_24h_usd=volumes.get(symbol),
            )
        )
    return out


def parse_open_interest(body: Any, symbol: str) -> tuple[float, int | None]:
    """openInterest answer of ``symbol`` -> (contracts, the venue's ``time`` in ms or None).
    Raises ValueError naming the symbol and field (a negative figure, another symbol)."""
    where = f"openInterest {symbol}"
    if not isinstance(body, Mapping):
        raise ValueError(f"{where}: expected a JSON object, got {type(body).__name__}")
    if body.get("symbol") not in (None, symbol):
        raise ValueError(f"{where}: field 'symbol' is {body.get('symbol')!r}")
    contracts = num(body, "openInterest", where)
    if contracts < 0:
        raise ValueError(f"{where}: field 'openInterest' is {contracts}, not >= 0")
    at = opt_num(body, "time", where)
    return contracts, None if at is None else int(at)


def parse_settled(body: Any, symbol: str) -> list[tuple[int, float]]:
    """fundingRate rows of ``symbol`` -> (settlement ms snapped to the whole hour, rate)."""
    what = f"fundingRate {symbol}"
    return settled_rates(rows_of(body, what), symbol, "fundingTime", what)


class BinanceUniverse:
    """:class:`core.venues.universe.UniverseSource` of Binance USD-M over ccxt ``binanceusdm``
    at ``feeds.binance_rest_url``."""

    venue = NAME

    def __init__(self, feeds: FeedSettings, taker_fee: float | None = None) -> None:
        self.client: Any = make_exchange(feeds, asynchronous=True)
        self.taker_fee = TAKER_FEE if taker_fee is None else taker_fee

    async def read(self) -> list[Perp]:
        """The four universe endpoints, read concurrently, joined by symbol."""
        c = self.client
        info, premium, funding, volumes = await asyncio.gather(
            c.fapiPublicGetExchangeInfo(),
            c.fapiPublicGetPremiumIndex(),
            c.fapiPublicGetFundingInfo(),
            c.fapiPublicGetTicker24hr(),
        )
        return build_perps(
            parse_exchange_info(info),
            premium,
            parse_funding_info(funding),
            parse_volumes(volumes),
            self.taker_fee,
        )

    async def settled(self, perp: Perp, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        """Settled rates of ``perp`` in [start_ms, end_ms] (one request, up to 1000 rows)."""
        body = await self.client.fapiPublicGetFundingRate(
            {
                "symbol": perp.symbol,
                "startTime": start_ms,
                "endTime": end_ms,
                "limit": HISTORY_LIMIT,
            }
        )
        return parse_settled(body, perp.symbol)

    async def open_interest(self, symbol: str) -> tuple[float, int | None]:
        """One symbol's open interest: (contracts, the venue's ms); one request of weight 1,
        paced by ccxt's throttle like every call of this client. HTTP 429/418 (ccxt 4.5.90
        ``binance.handle_errors``: ``DDoSProtection``) -> :class:`VenueBusy`."""
        import ccxt.async_support as ccxt

        try:
            body = await self.client.fapiPublicGetOpenInterest({"symbol": symbol})
        except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
            raise VenueBusy(str(exc)[:200]) from exc
        return parse_open_interest(body, symbol)

    async def close(self) -> None:
        await self.client.close()
