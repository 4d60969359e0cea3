"""Binance USD-M through ccxt ``binanceusdm`` (demo trading or production).

Endpoints (Binance "USDⓈ-M Futures" REST docs): ``POST /fapi/v1/order`` (type MARKET,
``quantity`` as a plain decimal string, ``reduceOnly``, ``newClientOrderId``,
``newOrderRespType=RESULT``), ``GET /fapi/v1/order?origClientOrderId`` (-2013 "Order does
not exist." = not found), ``DELETE /fapi/v1/order`` (-2011 "Unknown order sent."),
``DELETE /fapi/v1/allOpenOrders``, ``GET /fapi/v2/positionRisk``, ``GET /fapi/v2/balance``,
``GET /fapi/v1/positionSide/dual`` (must be false: one-way mode), ``GET /fapi/v1/exchangeInfo``
(lot ``MARKET_LOT_SIZE.stepSize`` must equal the configured lot).

Error codes: -4116 "ClientOrderId is duplicated." / -4015 "Client order id is not valid." are
looked up (already placed?); -1001/-1006/-1007 and HTTP 5xx mean the execution status is
unknown; HTTP 429/418 and -1008 (throttled) mean not executed. All calls go through
:meth:`~core.venues.ccxt_base.LiveVenue.call` (ccxt ``binanceusdm``, nothing overridden).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async

from core.domain import timeutil
from core.domain.config import BinanceVenueSettings
from core.domain.contracts import ZERO, wire
from core.domain.events import InstrumentSpec
from core.domain.orders import OrderIntent
from core.domain.venue import OrderStatus
from core.execution.limits import VenueLimiter
from core.execution.state import FundingReport, OrderBook, Report
from core.venues.ccxt_base import (
    LiveVenue,
    VenueError,
    VenueHttpError,
    VenueStartError,
    ccxt_options,
    now_ms,
)

STATUS = {
    "NEW": OrderStatus.ACCEPTED,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELLED,
    "EXPIRED": OrderStatus.CANCELLED,
    "EXPIRED_IN_MATCH": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
    "PENDING_CANCEL": OrderStatus.ACCEPTED,
}
DUPLICATE_CODES = ("-4116", "-4015")
UNKNOWN_CODES = ("-1001", "-1006", "-1007")
NOT_FOUND_CODES = ("-2013", "-2011")
CLOCK_CODES = ("-1021",)
"""Binance "Error Codes" -1021 INVALID_TIMESTAMP: "Timestamp for this request is outside of
the recvWindow" (or 1000 ms ahead of the server): nothing was executed."""
DEMO_WS = "wss://fstream.binancefuture.com/ws"
PROD_WS = "wss://fstream.binance.com/ws"


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


def parse_order(o: dict[str, Any], source: str = "rest") -> Report:
    """A REST order object (new order RESULT, query, cancel) as a :class:`Report`."""
    avg = _dec(o.get("avgPrice"))
    return Report(
        cid=str(o.get("clientOrderId", "")),
        venue="binance",
        symbol=str(o.get("symbol", "")),
        status=STATUS.get(str(o.get("status")), OrderStatus.UNKNOWN),
        filled_qty=_dec(o.get("executedQty")),
        avg_price=avg if avg > 0 else None,
        ts_ms=int(o.get("updateTime") or o.get("time") or now_ms()),
        raw=json.dumps(o, default=str, separators=(",", ":")),
        source=source,
    )


def parse_funding_income(row: dict[str, Any]) -> FundingReport:
    """One ``FUNDING_FEE`` income row as the funding the account paid (< 0) or got (> 0)."""
    t = int(row.get("time") or 0)
    try:
        at = timeutil.normalise_settlement_ms(t)
    except ValueError:
        at = t  # matches no settlement: kept on record only
    return FundingReport(
        venue="binance",
        symbol=str(row.get("symbol", "")),
        exec_id=str(row.get("tranId", "")),
        ts_ms=at,
        rate=None,
        mark_price=None,
        position=None,
        amount=_dec(row.get("income")),
        currency=str(row.get("asset", "")),
        raw=json.dumps(row, default=str),
    )


def parse_user_event(ev: dict[str, Any], raw: str = "") -> Report | None:
    """An ``ORDER_TRADE_UPDATE`` user-stream event as a :class:`Report` (None for other
    events). Execution type TRADE carries one execution: trade id ``t``, last quantity ``l``
    and price ``L``, commission ``n`` in asset ``N``; ``z`` is the cumulative quantity."""
    if ev.get("e") != "ORDER_TRADE_UPDATE":
        return None
    o = ev.get("o") or {}
    trade = o.get("x") == "TRADE"
    avg = _dec(o.get("ap"))
    return Report(
        cid=str(o.get("c", "")),
        venue="binance",
        symbol=str(o.get("s", "")),
        status=STATUS.get(str(o.get("X")), OrderStatus.UNKNOWN),
        filled_qty=_dec(o.get("z")),
        avg_price=avg if avg > 0 else None,
        exec_id=f"t{o.get('t')}" if trade else "",
        last_qty=_dec(o.get("l")) if trade else ZERO,
        last_price=_dec(o.get("L")) if trade else None,
        fee=_dec(o.get("n")) if trade and "n" in o else None,
        fee_currency=str(o.get("N", "")) if trade else "",
        ts_ms=int(o.get("T") or ev.get("T") or ev.get("E") or 0),
        raw=raw,
        source="stream",
    )


class BinanceVenue(LiveVenue):
    """Binance USD-M account (one-way mode) for the instruments in ``specs``."""

    venue = "binance"

    def __init__(
        self,
        settings: BinanceVenueSettings,
        specs: dict[tuple[str, str], InstrumentSpec],
        book: OrderBook,
        limiter: VenueLimiter,
        *,
        request_timeout_ms: int = 10000,
        user_stream: bool = True,
    ) -> None:
        super().__init__(specs, book, limiter, user_stream=user_stream)
        key, secret = self.credentials()
        self.settings = settings
        client = ccxt_async.binanceusdm(
            {
                "apiKey": key,
                "secret": secret,
                **ccxt_options(
                    request_timeout_ms, recvWindow=settings.recv_window_ms, defaultType="swap"
                ),
            }
        )
        if settings.env == "demo":
            client.enable_demo_trading(True)
        if settings.rest_url:
            base = settings.rest_url.rstrip("/")
            for name in list(client.urls["api"]):
                if name.startswith("fapi"):
                    ver = {"": "v1", "V2": "v2", "V3": "v3"}
                    suffix = name.removeprefix("fapiPublic").removeprefix("fapiPrivate")
                    if suffix in ver:
                        client.urls["api"][name] = f"{base}/fapi/{ver[suffix]}"
        self.client = client
        self.ws_base = settings.ws_url or (DEMO_WS if settings.env == "demo" else PROD_WS)

    # ------------------------------------------------------------ start
    async def start(self) -> None:
        """Sync the clock, check the instruments' lot against exchangeInfo and one-way
        position mode (``dualSidePosition`` must be false), then open the user stream."""
        try:
            await self.call(self.client.load_time_difference)
        except Exception as exc:
            raise VenueStartError(self.redact(f"binance: start-up calls failed: {exc}")) from None
        await self._check(list(self.specs.values()), "start-up")
        from core.venues.binance.user_stream import BinanceUserStream

        await self.open_stream(lambda: BinanceUserStream(self))

    async def check_instrument(self, spec: InstrumentSpec) -> None:
        """The start-up checks for one instrument added at run time: ``exchangeInfo`` (listed,
        market ``stepSize`` = lot) and ``dualSidePosition`` false (one-way mode)."""
        await self._check([spec], "instrument check")

    async def _check(self, specs: list[InstrumentSpec], what: str) -> None:
        try:
            info = await self.call(self.client.fapiPublicGetExchangeInfo)
            dual = await self.call(self.client.fapiPrivateGetPositionSideDual)
        except Exception as exc:
            raise VenueStartError(self.redact(f"binance: {what} calls failed: {exc}")) from None
        self._check_instruments(info, specs)
        if dual.get("dualSidePosition") not in (False, "false"):
            raise VenueStartError(
                "binance: the account is in Hedge Mode (GET /fapi/v1/positionSide/dual says "
                "dualSidePosition=true); arbtui trades one-way only: switch the account to "
                "One-way Mode, then start again"
            )

    def _check_instruments(self, info: dict[str, Any], specs: list[InstrumentSpec]) -> None:
        symbols = {s.get("symbol"): s for s in info.get("symbols", [])}
        for spec in specs:
            symbol = spec.symbol
            row = symbols.get(symbol)
            if row is None:
                raise VenueStartError(f"binance: {symbol} is not listed in exchangeInfo")
            filters = {f.get("filterType"): f for f in row.get("filters", [])}
            lot = filters.get("MARKET_LOT_SIZE") or filters.get("LOT_SIZE") or {}
            step = _dec(lot.get("stepSize"))
            if step != spec.lot:
                raise VenueStartError(
                    f"binance {symbol}: configured lot {spec.lot} but the exchange's market "
                    f"stepSize is {step}: fix [instruments] before trading"
                )
            tick = _dec(filters.get("PRICE_FILTER", {}).get("tickSize"))
            if tick and tick != spec.tick:
                self.warnings.append(f"binance {symbol}: tick {spec.tick} configured, {tick} live")

    # ------------------------------------------------------------ orders
    async def _send(self, intent: OrderIntent, spec: InstrumentSpec) -> Report:
        params = {
            "symbol": intent.symbol,
            "side": intent.side.upper(),
            "type": "MARKET",
            "quantity": wire(intent.qty.quantize(spec.lot)),
            "reduceOnly": "true" if intent.reduce_only else "false",
            "newClientOrderId": intent.client_order_id,
            "newOrderRespType": "RESULT",
        }
        return parse_order(await self.call(self.client.fapiPrivatePostOrder, params))

    async def lookup(self, symbol: str, cid: str) -> Report:
        try:
            o = await self.call(
                self.client.fapiPrivateGetOrder, {"symbol": symbol, "origClientOrderId": cid}
            )
        except VenueHttpError as exc:
            if exc.code == "-2013":
                return self.report(cid, symbol, OrderStatus.UNKNOWN, exc.msg, found=False)
            return self.report(cid, symbol, OrderStatus.UNKNOWN, f"lookup failed: {exc}")
        except Exception as exc:
            return self.report(cid, symbol, OrderStatus.UNKNOWN, f"lookup failed: {exc}")
        return parse_order(o)

    async def _cancel(self, symbol: str, cid: str) -> Report:
        try:
            o = await self.call(
                self.client.fapiPrivateDeleteOrder, {"symbol": symbol, "origClientOrderId": cid}
            )
        except VenueHttpError as exc:
            if exc.code in NOT_FOUND_CODES:
                return await self.lookup(symbol, cid)
            return self.report(cid, symbol, OrderStatus.UNKNOWN, f"cancel failed: {exc}")
        except Exception as exc:
            return self.report(cid, symbol, OrderStatus.UNKNOWN, f"cancel failed: {exc}")
        return parse_order(o)

    def _classify(self, exc: Exception) -> tuple[str, str]:
        """Binance answers: 418/429 (ccxt DDoSProtection) and -1008 are rate limits
        (nothing executed); -1021 a timestamp refusal (clock; nothing executed); -4116/-4015
        duplicate ids; -1006/-1007/-1001 and HTTP 5xx an unknown outcome; a transport error
        (no answer) unknown; anything else a refusal."""
        if isinstance(exc, VenueHttpError):
            text = f"binance {exc.code or exc.status}: {exc.msg}"
            if issubclass(exc.error, ccxt_async.DDoSProtection) or exc.code == "-1008":
                if exc.code == "-1008":
                    self.limiter.block_for(1.0, "-1008 throttled")
                return "rate", text
            if exc.code in DUPLICATE_CODES:
                return "duplicate", text
            if exc.code in CLOCK_CODES:
                return "clock", text
            if exc.code in UNKNOWN_CODES or exc.status >= 500:
                return "unknown", text
            return "rejected", text
        return "unknown", self.redact(f"binance: no answer ({type(exc).__name__}: {exc})")

    async def cancel_all(self, symbol: str) -> None:
        """``DELETE /fapi/v1/allOpenOrders``; :class:`VenueError` when it failed."""
        try:
            await self.call(self.client.fapiPrivateDeleteAllOpenOrders, {"symbol": symbol})
        except Exception as exc:
            raise VenueError(self.redact(f"binance {symbol}: cancel-all failed: {exc}")) from None

    async def open_orders(self, symbol: str) -> list[str]:
        """Client ids of every open order on ``symbol`` (``GET /fapi/v1/openOrders``, Binance
        USD-M "Current All Open Orders"); :class:`VenueError` when the read failed."""
        try:
            rows = await self.call(self.client.fapiPrivateGetOpenOrders, {"symbol": symbol})
        except Exception as exc:
            why = f"binance {symbol}: open orders read failed: {exc}"
            raise VenueError(self.redact(why)) from None
        return [str(r.get("clientOrderId") or r.get("orderId")) for r in rows or []]

    async def arm_deadman(self, symbol: str, countdown_ms: int) -> bool:
        """``POST /fapi/v1/countdownCancelAll`` (Binance USD-M "Auto-Cancel All Open Orders
        (TRADE)"): every open order of ``symbol`` is cancelled unless the call comes again
        within ``countdown_ms``; 0 turns the countdown off."""
        try:
            await self.call(
                self.client.fapiPrivatePostCountdownCancelAll,
                {"symbol": symbol, "countdownTime": countdown_ms},
            )
        except Exception as exc:
            why = f"binance {symbol}: countdownCancelAll failed: {exc}"
            raise VenueError(self.redact(why)) from None
        return True

    async def funding_income(self, symbol: str, since_ms: int) -> list[FundingReport]:
        """``GET /fapi/v1/income`` with ``incomeType=FUNDING_FEE`` (Binance USD-M "Get Income
        History (USER_DATA)"): one row per settlement, ``income`` signed, received > 0, in
        ``asset``; ``time`` is the settlement (snapped to the whole hour); ``tranId`` is the
        row's id. The rows carry neither rate, mark nor position (None here)."""
        params = {"incomeType": "FUNDING_FEE", "symbol": symbol, "startTime": since_ms,
                  "limit": 1000}  # fmt: skip
        try:
            rows = await self.call(self.client.fapiPrivateGetIncome, params)
        except Exception as exc:
            raise VenueError(self.redact(f"binance {symbol}: income read failed: {exc}")) from None
        return [parse_funding_income(r) for r in rows or [] if r.get("incomeType") == "FUNDING_FEE"]

    async def position(self, symbol: str) -> Decimal:
        """Signed position in BTC (``positionAmt`` of the one-way ``BOTH`` side)."""
        try:
            rows = await self.call(self.client.fapiPrivateV2GetPositionRisk, {"symbol": symbol})
        except Exception as exc:
            raise self.position_unknown(symbol, exc) from None
        if not isinstance(rows, list):
            raise self.position_unknown(symbol, ValueError("unexpected answer"))
        return sum((_dec(r.get("positionAmt")) for r in rows if r.get("symbol") == symbol), ZERO)

    async def balance(self, currency: str = "USDT") -> Decimal:
        """Wallet balance of ``currency`` (``GET /fapi/v2/balance``, already in units)."""
        try:
            rows = await self.call(self.client.fapiPrivateV2GetBalance)
        except Exception as exc:
            raise VenueError(self.redact(f"binance: balance read failed: {exc}")) from None
        for r in rows:
            if r.get("asset") == currency:
                return _dec(r.get("balance"))
        return ZERO
