"""Bybit v5 live execution (linear USDT and inverse perpetuals) through ccxt ``bybit``.

Environments (Bybit docs ``demo.mdx`` "Demo Trading Service", ``guide.mdx``): ``demo``
(default) trades the demo account on ``https://api-demo.bybit.com`` with its private stream on
``wss://stream-demo.bybit.com/v5/private``; ``production`` uses ``https://api.bybit.com`` and
``wss://stream.bybit.com/v5/private``. Keys only from ``ARBTUI_BYBIT_KEY`` /
``ARBTUI_BYBIT_SECRET``.

ccxt's unified API where it covers the need: ``create_order(symbol, 'market', side, amount,
params={'reduceOnly', 'clientOrderId', 'positionIdx': 0})`` (``POST /v5/order/create``;
``clientOrderId`` becomes ``orderLinkId``), ``fetch_positions`` (``GET /v5/position/list``),
``fetch_open_orders``, ``cancel_all_orders`` (``POST /v5/order/cancel-all``),
``load_time_difference`` / ``fetch_time`` (``GET /v5/market/time``), ``load_markets``
(``GET /v5/market/instruments-info``, once; a symbol listed since: its one market,
:meth:`BybitVenue.market_of`). Documented implicit endpoint methods where it does
not: ``private_get_v5_order_realtime`` / ``private_get_v5_order_history`` (look-up by
``orderLinkId``), ``private_post_v5_order_cancel`` (cancel by ``orderLinkId``),
``private_get_v5_account_wallet_balance``.

Units: linear BTCUSDT ``qty`` in BTC, fees and PnL in USDT; inverse BTCUSD ``qty`` in
contracts of 1 USD, fees, PnL and funding in BTC (Bybit help "What is Inverse Contract?").

Errors (docs ``error.mdx``; ccxt ``bybit.py`` exception map) arrive as HTTP 200 with a
non-zero ``retCode``: 10002 request time outside the receive window (ccxt ``InvalidNonce``:
not executed; the clock is read again and the order sent once more with the same id), 10006
too many visits (``RateLimitExceeded``: not executed; the ``X-Bapi-Limit-*`` headers, reset in
ms, hold the limiter and the same id is sent again), 110017 reduce-only refused (Bybit's table:
"orderQty will be truncated to zero"; ccxt: "Reduce-only rule not satisfied"), 110007
insufficient balance, 110001 order does not exist, 110072 duplicate ``orderLinkId`` (looked up:
already placed), 10016 system error (outcome unknown: looked up). An HTTP 403 is Bybit's IP
ban ("access too frequent", wait >= 10 min): orders are refused unsent meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt_async

from core.domain.config import BybitVenueSettings
from core.domain.contracts import ZERO, wire
from core.domain.events import InstrumentSpec
from core.domain.orders import OrderIntent
from core.domain.venue import OrderStatus
from core.execution.limits import VenueLimiter
from core.execution.state import OrderBook, Report
from core.venues.bybit.order_wire import (
    CLOCK_CODES as CLOCK_CODES,
)
from core.venues.bybit.order_wire import (
    DEMO_WS as DEMO_WS,
)
from core.venues.bybit.order_wire import (
    DUPLICATE_CODES as DUPLICATE_CODES,
)
from core.venues.bybit.order_wire import (
    HEDGE_MODE as HEDGE_MODE,
)
from core.venues.bybit.order_wire import (
    NAME as NAME,
)
from core.venues.bybit.order_wire import (
    NOT_FOUND_CODES as NOT_FOUND_CODES,
)
from core.venues.bybit.order_wire import (
    PROD_WS as PROD_WS,
)
from core.venues.bybit.order_wire import (
    RATE_CODES as RATE_CODES,
)
from core.venues.bybit.order_wire import (
    REDUCE_ONLY_CODE as REDUCE_ONLY_CODE,
)
from core.venues.bybit.order_wire import (
    REDUCE_ONLY_TEXT as REDUCE_ONLY_TEXT,
)
from core.venues.bybit.order_wire import (
    STATUS as STATUS,
)
from core.venues.bybit.order_wire import (
    UNKNOWN_CODES as UNKNOWN_CODES,
)
from core.venues.bybit.order_wire import (
    _dec as _dec,
)
from core.venues.bybit.order_wire import (
    category as category,
)
from core.venues.bybit.order_wire import (
    parse_funding_execution as parse_funding_execution,
)
from core.venues.bybit.order_wire import (
    parse_order as parse_order,
)
from core.venues.bybit.order_wire import (
    parse_trade_execution as parse_trade_execution,
)
from core.venues.ccxt_base import (
    LiveVenue,
    NotSent,
    VenueError,
    VenueHttpError,
    VenueStartError,
    ccxt_options,
    now_ms,
)

if TYPE_CHECKING:
    from core.venues.registry import ExecContext

log = logging.getLogger("arbtui.execution")


class BybitVenue(LiveVenue):
    """A Bybit v5 unified account (one-way mode) for the instruments in ``specs``."""

    deadman_note = (
        "bybit: no dead-man switch: its Disconnect Cancel All (POST "
        "/v5/order/disconnected-cancel-all, docs order/dcp.mdx) is for institutional accounts "
        "only (arbtui sends market orders, which rarely rest; the kill switch cancels all)"
    )

    venue = NAME

    def __init__(
        self,
        settings: BybitVenueSettings,
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
        client = ccxt_async.bybit(
            {
                "apiKey": key,
                "secret": secret,
                **ccxt_options(
                    request_timeout_ms,
                    recvWindow=settings.recv_window_ms,
                    defaultType="swap",
                    # unified trading account: ccxt would otherwise ask /v5/user/query-api
                    enableUnifiedAccount=True,
                    enableUnifiedMargin=False,
                    fetchMarkets={"types": ["linear", "inverse"]},
                ),
            }
        )
        if settings.env == "demo":
            client.enable_demo_trading(True)
        if settings.rest_url:
            base = settings.rest_url.rstrip("/")
            client.urls["api"] = {name: base for name in client.urls["api"]}
        self.client = client
        self.ws_url = settings.ws_url or (DEMO_WS if settings.env == "demo" else PROD_WS)
        self._markets_loaded = False
        self._market_reads: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------ start
    async def start(self) -> None:
        """Read the venue's clock, load the markets and check each instrument (qty step =
        lot, linear/inverse as configured), refuse an account in hedge mode (a position row
        with ``positionIdx`` 1 or 2), note open orders left from elsewhere, open the private
        stream."""
        try:
            await self.call(self.client.load_time_difference)
            await self._load_markets()
            rows = {s: await self._position_rows(s) for _, s in self.specs}
            opened = {s: await self._open_orders(s) for _, s in self.specs}
        except Exception as exc:
            raise VenueStartError(self.redact(f"bybit: start-up calls failed: {exc}")) from None
        for (_, symbol), spec in self.specs.items():
            self._check_instrument(spec)
            self._check_one_way(symbol, rows[symbol])
            if opened[symbol]:
                self.warnings.append(
                    f"bybit {symbol}: {len(opened[symbol])} open order(s) not placed by this run"
                )
        from core.venues.bybit.user_stream import BybitUserStream

        await self.open_stream(lambda: BybitUserStream(self))

    async def check_instrument(self, spec: InstrumentSpec) -> None:
        """The start-up checks for one instrument added at run time: listed in
        instruments-info (the markets read again if it was not listed when they were loaded),
        ``qtyStep`` = lot, linear/inverse as given, and no position row of it in hedge mode
        (``positionIdx`` 1 or 2)."""
        why = f"bybit {spec.symbol}: instrument check calls failed"
        try:
            await self.market_of(spec)
        except VenueError:
            pass  # not listed: said by the check below
        except Exception as exc:
            raise VenueStartError(self.redact(f"{why}: {exc}")) from None
        self._check_instrument(spec)
        try:
            rows = await self._position_rows(spec.symbol, spec)
        except Exception as exc:
            raise VenueStartError(self.redact(f"{why}: {exc}")) from None
        self._check_one_way(spec.symbol, rows)

    def _check_one_way(self, symbol: str, rows: list[dict[str, Any]]) -> None:
        hedged = [r for r in rows if str(r.get("positionIdx", "0")) != "0"]
        if hedged:
            idx = sorted({str(r.get("positionIdx")) for r in hedged})
            raise VenueStartError(
                HEDGE_MODE.format(rows=f"{symbol} positionIdx {', '.join(idx)}", symbol=symbol)
            )

    async def _load_markets(self) -> None:
        if not self._markets_loaded:
            await self.call(self.client.load_markets)
            self._markets_loaded = True

    async def market_of(self, spec: InstrumentSpec) -> str:
        """ccxt's unified symbol of ``spec``, its market loaded (ccxt's ``create_order``,
        ``fetch_positions`` and ``cancel_all_orders`` need it). The markets are loaded once
        (:meth:`start`); an instrument listed after that (a pair added at run time, which a
        worker learns from the intent's envelope) has its one market read then:
        ``GET /v5/market/instruments-info?category=..&symbol=..`` (ccxt
        ``fetch_future_markets``, which asks for ``status=PreLaunch`` too), added to ccxt's
        markets with ``set_markets`` (synchronous: a call on another symbol never sees a
        half-built table). An instrument already loaded returns without any call, so orders
        on the configured instruments (kill, flatten) never wait on such a read; one read a
        symbol at a time. Raises :class:`VenueError` when the venue does not list it, or the
        read's error."""
        await self._load_markets()
        try:
            return self.unified(spec.symbol, spec)
        except VenueError:
            pass
        async with self._market_reads.setdefault(spec.symbol, asyncio.Lock()):
            try:  # read meanwhile by another order on it
                return self.unified(spec.symbol, spec)
            except VenueError:
                pass
            client = self.client
            found = await self.call(
                client.fetch_future_markets, {"category": category(spec), "symbol": spec.symbol}
            )
            mine = [m for m in found or [] if m.get("id") == spec.symbol]
            if mine:
                client.set_markets([*client.markets.values(), *mine], client.currencies)
                log.info("bybit %s: market read (listed after the markets loaded)", spec.symbol)
            return self.unified(spec.symbol, spec)

    def unified(self, symbol: str, spec: InstrumentSpec | None = None) -> str:
        """ccxt's unified symbol of a Bybit id (``BTCUSDT`` -> ``BTC/USDT:USDT``) of the kind
        of ``spec`` (default: the known instrument's)."""
        spec = spec or self.specs[(NAME, symbol)]
        found = self.client.markets_by_id.get(symbol) or []
        for m in found:
            if bool(m.get("inverse")) == (spec.kind == "inverse") and m.get("swap"):
                return str(m["symbol"])
        raise VenueError(f"bybit: {symbol} ({category(spec)}) is not listed")

    def _check_instrument(self, spec: InstrumentSpec) -> None:
        where = f"bybit {spec.symbol}"
        try:
            market = self.client.market(self.unified(spec.symbol, spec))
        except VenueError as exc:
            raise VenueStartError(str(exc)) from None
        info = market.get("info") or {}
        step = _dec((info.get("lotSizeFilter") or {}).get("qtyStep"))
        if step != spec.lot:
            raise VenueStartError(
                f"{where}: configured lot {spec.lot} but instruments-info qtyStep is {step}: "
                "fix [instruments] before trading"
            )
        if bool(market.get("inverse")) != (spec.kind == "inverse"):
            raise VenueStartError(
                f"{where}: configured {spec.kind} but Bybit lists it as "
                f"{'inverse' if market.get('inverse') else 'linear'}"
            )
        if info.get("status") not in (None, "Trading"):
            self.warnings.append(f"{where}: status {info.get('status')} (not Trading)")
        tick = _dec((info.get("priceFilter") or {}).get("tickSize"))
        if tick and tick != spec.tick:
            self.warnings.append(f"{where}: tick {spec.tick} configured, {tick} live")

    # ------------------------------------------------------------ orders
    async def _send(self, intent: OrderIntent, spec: InstrumentSpec) -> Report:
        """``create_order`` (market, ``positionIdx`` 0, ``orderLinkId`` = our id,
        ``reduceOnly`` as the intent says; qty as the exact decimal string), then the order
        read back by its id (the create answer carries only ``orderId``/``orderLinkId``)."""
        try:
            unified = await self.market_of(spec)
        except Exception as exc:
            raise NotSent(
                f"bybit {intent.symbol}: not sent: its market could not be read ({exc})"
            ) from None
        params: dict[str, Any] = {
            "clientOrderId": intent.client_order_id,
            "positionIdx": 0,
            "reduceOnly": intent.reduce_only,
        }
        qty = wire(intent.qty.quantize(spec.lot))
        order = await self.call(
            self.client.create_order,
            unified,
            "market",
            intent.side,
            qty,
            None,
            params,
        )
        info = order.get("info") if isinstance(order, dict) else None  # {orderId, orderLinkId}
        placed = Report(
            cid=intent.client_order_id,
            venue=NAME,
            symbol=intent.symbol,
            status=OrderStatus.ACCEPTED,
            ts_ms=now_ms(),
            raw=json.dumps(info or {}, default=str, separators=(",", ":")),
        )
        after = await self.lookup(intent.symbol, intent.client_order_id)
        return after if after.found and after.status is not OrderStatus.UNKNOWN else placed

    async def open_orders(self, symbol: str) -> list[str]:
        """Client ids (``orderLinkId``, else ``orderId``) of every open order on ``symbol``:
        ``GET /v5/order/realtime`` without an id lists the open ones (docs
        ``order/open-order.mdx``); :class:`VenueError` when the read failed."""
        spec = self.specs.get((NAME, symbol))
        if spec is None:
            return []
        req = {"category": category(spec), "symbol": symbol}
        try:
            answer = await self.call(self.client.private_get_v5_order_realtime, req)
        except Exception as exc:
            why = f"bybit {symbol}: open orders read failed: {exc}"
            raise VenueError(self.redact(why)) from None
        rows = ((answer or {}).get("result") or {}).get("list") or []
        return [str(r.get("orderLinkId") or r.get("orderId")) for r in rows]

    async def lookup(self, symbol: str, cid: str) -> Report:
        """``GET /v5/order/realtime?orderLinkId=`` (open and recent orders), then
        ``/v5/order/history``; neither lists it: not found."""
        spec = self.specs.get((NAME, symbol))
        if spec is None:
            return self.report(cid, symbol, OrderStatus.UNKNOWN, "instrument not configured")
        req = {"category": category(spec), "symbol": symbol, "orderLinkId": cid}
        try:
            for method in (
                self.client.private_get_v5_order_realtime,
                self.client.private_get_v5_order_history,
            ):
                answer = await self.call(method, dict(req))
                rows = ((answer or {}).get("result") or {}).get("list") or []
                mine = [r for r in rows if r.get("orderLinkId") == cid]
                if mine:
                    return parse_order(mine[0])
        except Exception as exc:
            return self.report(cid, symbol, OrderStatus.UNKNOWN, f"lookup failed: {exc}")
        return self.report(cid, symbol, OrderStatus.UNKNOWN, "not found", found=False)

    async def _cancel(self, symbol: str, cid: str) -> Report:
        spec = self.specs.get((NAME, symbol))
        if spec is None:
            return self.report(cid, symbol, OrderStatus.UNKNOWN, "instrument not configured")
        req = {"category": category(spec), "symbol": symbol, "orderLinkId": cid}
        try:
            await self.call(self.client.private_post_v5_order_cancel, req)
        except VenueHttpError as exc:
            if exc.code not in NOT_FOUND_CODES:
                return self.report(cid, symbol, OrderStatus.UNKNOWN, f"cancel failed: {exc}")
        except Exception as exc:
            return self.report(cid, symbol, OrderStatus.UNKNOWN, f"cancel failed: {exc}")
        return await self.lookup(symbol, cid)

    def _classify(self, exc: Exception) -> tuple[str, str]:
        if isinstance(exc, VenueHttpError):
            text = f"bybit {exc.code or exc.status}: {exc.msg}"
            if exc.code == REDUCE_ONLY_CODE:
                return "rejected", f"{text} ({REDUCE_ONLY_TEXT})"
            if exc.status == 403:
                self.limiter.block_for(600.0, "HTTP 403 access too frequent (Bybit IP limit)")
                return "rejected", text
            if exc.code in RATE_CODES or issubclass(exc.error, ccxt_async.RateLimitExceeded):
                if self.limiter.wait_s() <= 0:
                    self.limiter.block_for(1.0, f"retCode {exc.code} too many visits")
                return "rate", text
            if exc.code in CLOCK_CODES or issubclass(exc.error, ccxt_async.InvalidNonce):
                return "clock", text
            if exc.code in DUPLICATE_CODES:
                return "duplicate", text
            if exc.code in UNKNOWN_CODES or exc.status >= 500:
                return "unknown", text
            return "rejected", text
        return "unknown", self.redact(f"bybit: no answer ({type(exc).__name__}: {exc})")

    async def cancel_all(self, symbol: str) -> None:
        """``cancel_all_orders`` (``POST /v5/order/cancel-all``); :class:`VenueError` when it
        failed."""
        try:
            unified = await self.market_of(self.specs[(NAME, symbol)])
            await self.call(self.client.cancel_all_orders, unified)
        except Exception as exc:
            raise VenueError(self.redact(f"bybit {symbol}: cancel-all failed: {exc}")) from None

    async def _position_rows(
        self, symbol: str, spec: InstrumentSpec | None = None
    ) -> list[dict[str, Any]]:
        spec = spec or self.specs[(NAME, symbol)]
        unified = await self.market_of(spec)
        got = await self.call(self.client.fetch_positions, [unified], {"category": category(spec)})
        if not isinstance(got, list):
            raise ValueError("unexpected answer")
        rows = [p.get("info") or {} for p in got]
        return [r for r in rows if r.get("symbol") == symbol]

    async def _open_orders(self, symbol: str) -> list[dict[str, Any]]:
        spec = self.specs[(NAME, symbol)]
        got = await self.call(
            self.client.fetch_open_orders,
            await self.market_of(spec),
            None,
            None,
            {"category": category(spec)},
        )
        return [o.get("info") or {} for o in got] if isinstance(got, list) else []

    async def position(self, symbol: str) -> Decimal:
        """Signed position (``size`` with ``side`` Buy +, Sell -; BTC linear, contracts
        inverse) from ``fetch_positions``; :class:`PositionUnknown` when the read failed."""
        try:
            rows = await self._position_rows(symbol)
        except Exception as exc:
            raise self.position_unknown(symbol, exc) from None
        total = ZERO
        for r in rows:
            size = _dec(r.get("size"))
            total += size if r.get("side") == "Buy" else -size if r.get("side") == "Sell" else 0
        return total

    async def balance(self, currency: str = "USDT") -> Decimal:
        """``walletBalance`` of ``currency`` in the unified account
        (``GET /v5/account/wallet-balance``, docs ``account/wallet-balance.mdx``)."""
        try:
            answer = await self.call(
                self.client.private_get_v5_account_wallet_balance,
                {"accountType": "UNIFIED", "coin": currency},
            )
        except Exception as exc:
            raise VenueError(self.redact(f"bybit: balance read failed: {exc}")) from None
        for acct in ((answer or {}).get("result") or {}).get("list") or []:
            for c in acct.get("coin") or []:
                if c.get("coin") == currency:
                    return _dec(c.get("walletBalance"))
        return ZERO


def make_venue(ctx: ExecContext) -> LiveVenue:
    """The registry's factory: a :class:`BybitVenue` from ``[venues.bybit]``."""
    v = ctx.settings.venues
    return BybitVenue(
        v.bybit,
        ctx.specs,
        ctx.book,
        ctx.limiter,
        request_timeout_ms=v.request_timeout_ms,
        user_stream=ctx.user_stream,
    )
