"""A fake Binance USD-M account on 127.0.0.1: the REST endpoints ccxt ``binanceusdm`` calls
for arbtui, signed like the real API, and the user data stream, with fault injection.

Wire shapes follow the Binance USD-M docs (New Order RESULT, Query Order, Position
Information V2, Futures Account Balance V2, ``ORDER_TRADE_UPDATE``; error JSON
``{"code": -2013, "msg": "Order does not exist."}``); ``exchangeInfo`` is the real 2021
capture in ``tests/data``. Behaviour kept from the real venue: client ids are unique among
open orders only, reduce-only orders that would not reduce are refused (-2022), a market
order fills at ``price`` (or in ``partial`` steps), an unknown id is -2013.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.fake_venues.common import FakeServer, Fault, dec

DATA = Path(__file__).resolve().parent.parent / "data"
ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
OPEN = ("NEW", "PARTIALLY_FILLED")


@dataclass
class Order:
    order_id: int
    cid: str
    symbol: str
    side: str
    qty: Decimal
    reduce_only: bool
    status: str = "NEW"
    executed: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    update_ms: int = 0
    trades: list[tuple[int, Decimal, Decimal]] = field(default_factory=list)

    def avg(self) -> Decimal:
        return (
            (self.quote / self.executed).quantize(Decimal("0.01")) if self.executed else Decimal(0)
        )

    def json(self) -> dict[str, Any]:
        return {
            "orderId": self.order_id,
            "symbol": self.symbol,
            "status": self.status,
            "clientOrderId": self.cid,
            "price": "0",
            "avgPrice": str(self.avg()),
            "origQty": str(self.qty),
            "executedQty": str(self.executed),
            "cumQty": str(self.executed),
            "cumQuote": str(self.quote),
            "timeInForce": "GTC",
            "type": "MARKET",
            "reduceOnly": self.reduce_only,
            "closePosition": False,
            "side": self.side,
            "positionSide": "BOTH",
            "stopPrice": "0",
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
            "origType": "MARKET",
            "priceMatch": "NONE",
            "selfTradePreventionMode": "NONE",
            "goodTillDate": 0,
            "updateTime": self.update_ms,
        }


class FakeBinance(FakeServer):
    """State: ``orders`` (every accepted order), ``positions`` (signed BTC per symbol)."""

    def __init__(self, key: str, secret: str) -> None:
        super().__init__()
        self.key, self.secret = key, secret
        self.price = Decimal("50000.00")
        self.step = Decimal("0.001")
        self.orders: list[Order] = []
        self.positions: dict[str, Decimal] = {}
        self.balance_usdt = Decimal("100000.00000000")
        self.dual = False
        self.reject_margin: set[str] = set()
        self.expire_reduce_only = False
        """Answer every reduce-only order EXPIRED with nothing filled (a market reduce-only
        order the venue would not execute)."""
        self.partial: dict[str, list[Decimal]] = {}
        self.partial_every_s = 0.05
        self.stream_delay_s = 0.0
        self.stream_muted = False
        self.ws_refused = False
        self.listen_keys: dict[str, int] = {}
        self.ws_keys: list[str] = []
        """The listenKey of every user-stream socket opened, in order."""
        self.keepalives = 0
        self.sockets: list[web.WebSocketResponse] = []
        self.used_weight = 1
        self.clock_skew_ms = 0
        self.countdowns: dict[str, int] = {}
        """Per symbol, the monotonic ms at which the armed auto-cancel fires (0 = off)."""
        self.countdown_fired: list[str] = []
        self.extra_symbols: list[dict[str, Any]] = []
        """``exchangeInfo`` rows listed after the recorded BTCUSDT one (a test lists more)."""
        self.income: list[dict[str, Any]] = []
        """``GET /fapi/v1/income`` rows (the test adds them)."""
        """How far the venue's clock runs ahead of ours: a signed request whose
        ``timestamp`` is more than 1000 ms ahead of it or older than ``recvWindow`` gets
        -1021 (Binance "Error Codes", "SIGNED Endpoint Security")."""
        self._ids = itertools.count(8886774)
        self._trade_ids = itertools.count(1001)
        r = self.app.router
        r.add_get("/fapi/v1/time", self.h_time)
        r.add_get("/fapi/v1/exchangeInfo", self.h_info)
        r.add_get("/fapi/v1/positionSide/dual", self.h_dual)
        r.add_post("/fapi/v1/order", self.h_new)
        r.add_get("/fapi/v1/order", self.h_query)
        r.add_delete("/fapi/v1/order", self.h_cancel)
        r.add_delete("/fapi/v1/allOpenOrders", self.h_cancel_all)
        r.add_get("/fapi/v2/positionRisk", self.h_position)
        r.add_get("/fapi/v2/balance", self.h_balance)
        r.add_post("/fapi/v1/countdownCancelAll", self.h_countdown)
        r.add_get("/fapi/v1/openOrders", self.h_open_orders)
        r.add_get("/fapi/v1/income", self.h_income)
        r.add_post("/fapi/v1/listenKey", self.h_lk_new)
        r.add_put("/fapi/v1/listenKey", self.h_lk_keep)
        r.add_delete("/fapi/v1/listenKey", self.h_lk_keep)
        r.add_get("/ws/{key}", self.h_ws)

    # ------------------------------------------------------------ plumbing
    def placed(self, cid: str | None = None) -> list[Order]:
        """Orders the exchange accepted (with ``cid``, if given)."""
        return [o for o in self.orders if cid is None or o.cid == cid]

    def rest_order(self, symbol: str, side: str, qty: str, cid: str = "") -> Order:
        """An order resting on the book, not filled: placed by hand on the web site (or left
        by an earlier run); arbtui does not know its id."""
        o = Order(
            next(self._ids), cid or f"web_{uuid.uuid4().hex[:16]}", symbol, side.upper(),
            Decimal(qty), False, update_ms=int(time.time() * 1000),
        )  # fmt: skip
        self.orders.append(o)
        return o

    def open_orders(self, symbol: str) -> list[Order]:
        """Orders still open on ``symbol``."""
        return [o for o in self.orders if o.symbol == symbol and o.status in OPEN]

    def _json(
        self, data: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        self.used_weight += 1
        h = {"X-MBX-USED-WEIGHT-1M": str(self.used_weight)}
        h.update(headers or {})
        return web.Response(
            text=json.dumps(data), status=status, headers=h, content_type="application/json"
        )

    def _err(self, code: int, msg: str, status: int = 400) -> web.Response:
        return self._json({"code": code, "msg": msg}, status)

    async def _params(
        self, request: web.Request, signed: bool = True
    ) -> tuple[dict[str, str], web.Response | None]:
        body = await self.record(request)
        if request.headers.get("X-MBX-APIKEY") != self.key:
            return {}, self._err(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        raw = (
            body if request.method in ("POST", "PUT") and body else request.rel_url.raw_query_string
        )
        params = dict(parse_qsl(raw, keep_blank_values=True))
        if signed:
            payload, _, sig = raw.rpartition("&signature=")
            want = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
            if sig != want:
                return {}, self._err(-1022, "Signature for this request is not valid.")
            server = int(time.time() * 1000) + self.clock_skew_ms
            ts, window = int(params.get("timestamp", "0")), int(params.get("recvWindow", "5000"))
            if ts > server + 1000 or server - ts > window:
                return {}, self._err(
                    -1021, "Timestamp for this request is outside of the recvWindow."
                )
        return params, None

    async def _fault(self, route: str) -> tuple[Fault | None, web.Response | None]:
        f = self.take_fault(route)
        if f is None:
            return None, None
        if f.status and not f.process:
            await asyncio.sleep(f.respond_after_s)
            return f, self._json(f.body or {}, f.status, f.headers)
        return f, None

    def _push(self, event: dict[str, Any]) -> None:
        if self.stream_muted:
            return
        text = json.dumps(event)

        async def send() -> None:
            for ws in list(self.sockets):
                if not ws.closed:
                    await ws.send_str(text)

        self.later(self.stream_delay_s, send)

    def _event(
        self, o: Order, x: str, last: tuple[int, Decimal, Decimal] | None = None
    ) -> dict[str, Any]:
        t, lq, lp = last or (0, Decimal(0), Decimal(0))
        fee = (lq * lp * Decimal("0.0005")).quantize(Decimal("0.00000001"))
        ev: dict[str, Any] = {
            "s": o.symbol,
            "c": o.cid,
            "S": o.side,
            "o": "MARKET",
            "f": "GTC",
            "q": str(o.qty),
            "p": "0",
            "ap": str(o.avg()),
            "sp": "0",
            "x": x,
            "X": o.status,
            "i": o.order_id,
            "l": str(lq),
            "z": str(o.executed),
            "L": str(lp),
            "T": o.update_ms,
            "t": t,
            "b": "0",
            "a": "0",
            "m": False,
            "R": o.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": "MARKET",
            "ps": "BOTH",
            "cp": False,
            "rp": "0",
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "NONE",
            "pm": "NONE",
            "gtd": 0,
        }
        if x == "TRADE":
            ev.update({"N": "USDT", "n": str(fee)})
        return {"e": "ORDER_TRADE_UPDATE", "E": o.update_ms, "T": o.update_ms, "o": ev}

    # ------------------------------------------------------------ market order engine
    def _fill(self, o: Order, qty: Decimal) -> None:
        trade = (next(self._trade_ids), qty, self.price)
        o.executed += qty
        o.quote += qty * self.price
        o.trades.append(trade)
        o.status = "FILLED" if o.executed == o.qty else "PARTIALLY_FILLED"
        o.update_ms = int(time.time() * 1000)
        sign = 1 if o.side == "BUY" else -1
        self.positions[o.symbol] = self.positions.get(o.symbol, Decimal(0)) + sign * qty
        self._push(self._event(o, "TRADE", trade))

    def _accept(self, p: dict[str, str]) -> Order | web.Response:
        cid = p.get("newClientOrderId", "")
        if not ID_RE.match(cid):
            return self._err(-4015, "Client order id is not valid.")
        qty_s = p.get("quantity", "")
        if "e" in qty_s.lower() or not qty_s:
            return self._err(-1111, "Precision is over the maximum defined for this asset.")
        qty = dec(qty_s)
        if qty <= 0 or qty % self.step != 0:
            return self._err(-1111, "Precision is over the maximum defined for this asset.")
        if any(o.cid == cid and o.status in OPEN for o in self.orders):
            return self._err(-4116, "ClientOrderId is duplicated.")
        if cid in self.reject_margin:
            return self._err(-2019, "Margin is insufficient.")
        symbol, side = p["symbol"], p["side"]
        reduce_only = p.get("reduceOnly") == "true"
        pos = self.positions.get(symbol, Decimal(0))
        if reduce_only and self.expire_reduce_only:  # accepted, then expired: nothing filled
            o = Order(
                next(self._ids), cid, symbol, side, qty, True, update_ms=int(time.time() * 1000)
            )
            self.orders.append(o)
            self._push(self._event(o, "NEW"))
            o.status = "EXPIRED"
            self._push(self._event(o, "EXPIRED"))
            return o
        if reduce_only:
            reducing = (pos > 0 and side == "SELL") or (pos < 0 and side == "BUY")
            if not reducing:
                return self._err(-2022, "ReduceOnly Order is rejected.")
            qty = min(qty, abs(pos))
        o = Order(
            next(self._ids), cid, symbol, side, qty, reduce_only, update_ms=int(time.time() * 1000)
        )
        self.orders.append(o)
        self._push(self._event(o, "NEW"))
        self.fill_as_set(o, cid, qty, self._fill)
        return o

    # ------------------------------------------------------------ handlers
    async def h_time(self, request: web.Request) -> web.Response:
        await self.record(request)
        return self._json({"serverTime": int(time.time() * 1000) + self.clock_skew_ms})

    async def h_info(self, request: web.Request) -> web.Response:
        await self.record(request)
        info = json.loads((DATA / "binance_exchangeInfo_BTCUSDT_2021-07-22.json").read_text())
        info["symbols"] += self.extra_symbols
        return self._json(info)

    async def h_dual(self, request: web.Request) -> web.Response:
        _, err = await self._params(request)
        return err or self._json({"dualSidePosition": self.dual})

    async def h_new(self, request: web.Request) -> web.Response:
        p, err = await self._params(request)
        if err:
            return err
        fault, answer = await self._fault("POST /fapi/v1/order")
        if answer is not None:
            return answer
        if fault is not None and fault.drop:
            await asyncio.sleep(fault.respond_after_s)
            return self._err(-1007, "Timeout waiting for response from backend server.", 503)
        if fault is not None and fault.process_after_s:
            self.later(fault.process_after_s, lambda: self._accept(p))
            await asyncio.sleep(fault.respond_after_s)
            return self._err(-1007, "Timeout waiting for response from backend server.", 503)
        res = self._accept(p)
        if fault is not None:
            await asyncio.sleep(fault.respond_after_s)
            if fault.status:
                return self._json(fault.body or {}, fault.status, fault.headers)
        return res if isinstance(res, web.Response) else self._json(res.json())

    def _find(self, p: dict[str, str]) -> Order | None:
        mine = [
            o
            for o in self.orders
            if o.cid == p.get("origClientOrderId") and o.symbol == p.get("symbol")
        ]
        return mine[-1] if mine else None

    async def h_query(self, request: web.Request) -> web.Response:
        p, err = await self._params(request)
        if err:
            return err
        _, answer = await self._fault("GET /fapi/v1/order")
        if answer is not None:
            return answer
        o = self._find(p)
        return self._json(o.json()) if o else self._err(-2013, "Order does not exist.")

    async def h_cancel(self, request: web.Request) -> web.Response:
        p, err = await self._params(request)
        if err:
            return err
        o = self._find(p)
        if o is None or o.status not in OPEN:
            return self._err(-2011, "Unknown order sent.")
        o.status = "CANCELED"
        o.update_ms = int(time.time() * 1000)
        self._push(self._event(o, "CANCELED"))
        return self._json(o.json())

    async def h_cancel_all(self, request: web.Request) -> web.Response:
        p, err = await self._params(request)
        if err:
            return err
        for o in self.orders:
            if o.symbol == p.get("symbol") and o.status in OPEN:
                o.status = "CANCELED"
                self._push(self._event(o, "CANCELED"))
        return self._json({"code": 200, "msg": "The operation of cancel all open order is done."})

    async def h_position(self, request: web.Request) -> web.Response:
        p, err = await self._params(request)
        if err:
            return err
        _, answer = await self._fault("GET /fapi/v2/positionRisk")
        if answer is not None:
            return answer
        sym = p.get("symbol", "BTCUSDT")
        amt = self.positions.get(sym, Decimal(0))
        return self._json(
            [
                {
                    "symbol": sym,
                    "positionAmt": str(amt),
                    "entryPrice": str(self.price),
                    "breakEvenPrice": "0.0",
                    "markPrice": str(self.price),
                    "unRealizedProfit": "0.0",
                    "liquidationPrice": "0",
                    "leverage": "10",
                    "maxNotionalValue": "10000000",
                    "marginType": "cross",
                    "isolatedMargin": "0.00000000",
                    "isAutoAddMargin": "false",
                    "positionSide": "BOTH",
                    "notional": str(amt * self.price),
                    "isolatedWallet": "0",
                    "updateTime": int(time.time() * 1000),
                }
            ]
        )

    async def h_balance(self, request: web.Request) -> web.Response:
        _, err = await self._params(request)
        if err:
            return err
        b = str(self.balance_usdt)
        return self._json(
            [
                {
                    "accountAlias": "SgsR",
                    "asset": "USDT",
                    "balance": b,
                    "crossWalletBalance": b,
                    "crossUnPnl": "0.00000000",
                    "availableBalance": b,
                    "maxWithdrawAmount": b,
                    "marginAvailable": True,
                    "updateTime": int(time.time() * 1000),
                }
            ]
        )

    async def h_lk_new(self, request: web.Request) -> web.Response:
        _, err = await self._params(request, signed=False)
        if err:
            return err
        _, answer = await self._fault("POST /fapi/v1/listenKey")
        if answer is not None:
            return answer
        key = uuid.uuid4().hex + uuid.uuid4().hex
        self.listen_keys[key] = 0
        return self._json({"listenKey": key})

    async def h_lk_keep(self, request: web.Request) -> web.Response:
        _, err = await self._params(request, signed=False)
        if err:
            return err
        _, answer = await self._fault(f"{request.method} /fapi/v1/listenKey")
        if answer is not None:
            return answer
        if not self.listen_keys:
            return self._err(-1125, "This listenKey does not exist.")
        self.keepalives += 1
        return self._json({})

    def change_position(self, symbol: str, qty: Decimal) -> None:
        """The position becomes ``qty`` without an order of arbtui's (a liquidation, an
        auto-deleverage, a trade by hand); the user stream says so in an ``ACCOUNT_UPDATE``
        (docs "Event: Balance and Position Update", reason ``m``)."""
        self.positions[symbol] = qty
        now = int(time.time() * 1000)
        self._push({
            "e": "ACCOUNT_UPDATE", "E": now, "T": now,
            "a": {"m": "ORDER", "B": [], "P": [{
                "s": symbol, "pa": str(qty), "ep": str(self.price), "bep": "0", "cr": "0",
                "up": "0", "mt": "cross", "iw": "0", "ps": "BOTH",
            }]},
        })  # fmt: skip

    async def h_countdown(self, request: web.Request) -> web.Response:
        """``POST /fapi/v1/countdownCancelAll``: answer ``{"symbol","countdownTime"}``; when
        the time runs out without a new call, every open order of the symbol is cancelled."""
        p, err = await self._params(request)
        if err:
            return err
        _, answer = await self._fault("POST /fapi/v1/countdownCancelAll")
        if answer is not None:
            return answer
        symbol, ms_left = p["symbol"], int(p["countdownTime"])
        fire_at = time.monotonic() * 1000 + ms_left if ms_left else 0
        self.countdowns[symbol] = int(fire_at)

        async def fire() -> None:
            if self.countdowns.get(symbol) == int(fire_at) and fire_at:
                self.countdown_fired.append(symbol)
                for o in self.open_orders(symbol):
                    o.status = "CANCELED"
                    self._push(self._event(o, "CANCELED"))

        if ms_left:
            self.later(ms_left / 1000, fire)
        return self._json({"symbol": symbol, "countdownTime": str(ms_left)})

    async def h_open_orders(self, request: web.Request) -> web.Response:
        p, err = await self._params(request)
        if err:
            return err
        return self._json([o.json() for o in self.open_orders(p.get("symbol", ""))])

    async def h_income(self, request: web.Request) -> web.Response:
        p, err = await self._params(request)
        if err:
            return err
        since = int(p.get("startTime", "0"))
        rows = [
            r for r in self.income
            if r["symbol"] == p.get("symbol", r["symbol"])
            and r["incomeType"] == p.get("incomeType", r["incomeType"])
            and int(r["time"]) >= since
        ]  # fmt: skip
        return self._json(rows)

    def expire_listen_keys(self) -> None:
        """Every listenKey is gone (as after 60 min without a keep-alive): keep-alives answer
        -1125 and sockets on an old key are closed."""
        self.listen_keys.clear()

    async def h_ws(self, request: web.Request) -> web.WebSocketResponse:
        if request.match_info["key"] not in self.listen_keys or self.ws_refused:
            raise web.HTTPServiceUnavailable()
        self.ws_keys.append(request.match_info["key"])
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self.sockets.append(ws)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.sockets.remove(ws)
        return ws

    async def drop_sockets(self) -> None:
        """Close every user-stream socket (the client must reconnect)."""
        for ws in list(self.sockets):
            await ws.close()
