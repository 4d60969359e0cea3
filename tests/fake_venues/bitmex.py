"""A fake BitMEX account on 127.0.0.1: the ``/api/v1`` endpoints ccxt ``bitmex`` calls for
arbtui, signed like the real API (``api-key``, ``api-expires``, ``api-signature`` =
HMAC-SHA256(secret, verb + path + expires + body)), rate-limit headers on every answer,
and the realtime socket (``authKeyExpires``, ``execution``/``order``/``position`` tables
with ``partial`` then ``insert``/``update``, updates carrying only the changed fields).

Row shapes follow the BitMEX API explorer and the real XBTUSD instrument row captured in
2021 (``tests/data``). Behaviour kept from the real venue: clOrdID unique among open orders
("Duplicate clOrdID"), 503 "overloaded" means not executed, orderQty must be a multiple of
lotSize, a ReduceOnly order that would not reduce is cancelled unfilled, commission and
balances in minor units (XBt, USDt).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from tests.fake_venues.common import FakeServer

DATA = Path(__file__).resolve().parent.parent / "data"
OPEN = ("New", "PartiallyFilled")
OVERLOADED = {
    "error": {
        "message": "The system is currently overloaded. Please try again later.",
        "name": "HTTPError",
    }
}


def iso(ts: float | None = None) -> str:
    t = time.time() if ts is None else ts
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


@dataclass
class Order:
    order_id: str
    cid: str
    symbol: str
    side: str
    qty: int
    exec_inst: str
    status: str = "New"
    cum: int = 0
    coin: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    text: str = "Submitted via API."

    def avg(self, inverse: bool) -> Decimal | None:
        if not self.cum:
            return None
        return (self.cum / self.coin) if inverse else (self.quote / self.cum)

    def row(self, inverse: bool) -> dict[str, Any]:
        avg = self.avg(inverse)
        return {
            "orderID": self.order_id,
            "clOrdID": self.cid,
            "clOrdLinkID": "",
            "account": 2,
            "symbol": self.symbol,
            "side": self.side,
            "orderQty": self.qty,
            "price": None,
            "currency": "USD",
            "settlCurrency": "XBt" if inverse else "USDt",
            "ordType": "Market",
            "timeInForce": "ImmediateOrCancel",
            "execInst": self.exec_inst,
            "ordStatus": self.status,
            "workingIndicator": self.status in OPEN,
            "ordRejReason": "",
            "leavesQty": self.qty - self.cum if self.status in OPEN else 0,
            "cumQty": self.cum,
            "avgPx": float(avg) if avg is not None else None,
            "multiLegReportingType": "SingleSecurity",
            "text": self.text,
            "transactTime": iso(),
            "timestamp": iso(),
        }


class FakeBitmex(FakeServer):
    """State: ``orders`` (accepted), ``positions`` (contracts per symbol)."""

    def __init__(self, key: str, secret: str) -> None:
        super().__init__()
        self.key, self.secret = key, secret
        self.price = Decimal("50000")
        self.orders: list[Order] = []
        self.positions: dict[str, int] = {}
        self.wallet_xbt_sat = 50_000_000
        self.hedged = False
        self.reject_margin: set[str] = set()
        self.partial: dict[str, list[int]] = {}
        self.partial_every_s = 0.05
        self.stream_delay_s = 0.0
        self.remaining = 119
        self.reset_in_s = 1
        self.sockets: list[web.WebSocketResponse] = []
        self.instruments = json.loads(
            (DATA / "bitmex_instrument_XBTUSD_2021-07-22.json").read_text()
        )
        xbtusdt = dict(self.instruments[0])
        xbtusdt.update(
            {  # adapted row: BitMEX XBTUSDT contract spec (no real row recorded)
                "symbol": "XBTUSDT",
                "quoteCurrency": "USDT",
                "positionCurrency": "",
                "lotSize": 1000,
                "tickSize": 0.5,
                "multiplier": 1,
                "isInverse": False,
                "settlCurrency": "USDt",
                "underlyingToSettleMultiplier": None,
                "underlyingToPositionMultiplier": 1000000,
                "quoteToSettleMultiplier": 1000000,
            }
        )
        self.instruments.append(xbtusdt)
        r = self.app.router
        r.add_get("/api/v1/instrument", self.h_instrument)
        r.add_get("/api/v1/position", self.h_position)
        r.add_post("/api/v1/order", self.h_new)
        r.add_get("/api/v1/order", self.h_query)
        r.add_delete("/api/v1/order", self.h_cancel)
        r.add_delete("/api/v1/order/all", self.h_cancel_all)
        r.add_get("/api/v1/user/margin", self.h_margin)
        r.add_get("/realtime", self.h_ws)

    def inverse(self, symbol: str) -> bool:
        return symbol == "XBTUSD"

    def lot(self, symbol: str) -> int:
        return next(int(i["lotSize"]) for i in self.instruments if i["symbol"] == symbol)

    def placed(self, cid: str | None = None) -> list[Order]:
        return [o for o in self.orders if cid is None or o.cid == cid]

    # ------------------------------------------------------------ plumbing
    def _json(
        self,
        data: Any,
        status: int = 200,
        headers: dict[str, str] | None = None,
        order_route: bool = False,
    ) -> web.Response:
        self.remaining = max(self.remaining - 1, 0)
        h = {
            "x-ratelimit-limit": "120",
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(int(time.time()) + self.reset_in_s),
        }
        if order_route:
            h["x-ratelimit-remaining-1s"] = "9"
        h.update(headers or {})
        return web.Response(
            text=json.dumps(data), status=status, headers=h, content_type="application/json"
        )

    def _err(self, msg: str, status: int = 400, name: str = "HTTPError") -> web.Response:
        return self._json({"error": {"message": msg, "name": name}}, status)

    async def _auth(self, request: web.Request) -> tuple[Any, web.Response | None]:
        body = await self.record(request)
        h = request.headers
        if h.get("api-key") != self.key:
            return None, self._err("Invalid API Key.", 401)
        path = request.rel_url.raw_path
        if request.rel_url.raw_query_string:
            path += "?" + request.rel_url.raw_query_string
        payload = request.method + path + h.get("api-expires", "") + body
        want = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if h.get("api-signature") != want:
            return None, self._err("Signature not valid.", 401)
        return (json.loads(body) if body else {}), None

    def _push(self, table: str, action: str, rows: list[dict[str, Any]]) -> None:
        text = json.dumps({"table": table, "action": action, "data": rows})

        async def send() -> None:
            for ws in list(self.sockets):
                if not ws.closed:
                    await ws.send_str(text)

        self.later(self.stream_delay_s, send)

    def push_execution(self, row: dict[str, Any]) -> None:
        """Send one raw ``execution`` row (e.g. a Funding row) on every socket."""
        self._push("execution", "insert", [row])

    # ------------------------------------------------------------ engine
    def _fill(self, o: Order, qty: int) -> None:
        inv = self.inverse(o.symbol)
        o.cum += qty
        o.coin += Decimal(qty) / self.price
        o.quote += Decimal(qty) * self.price
        o.status = "Filled" if o.cum == o.qty else "PartiallyFilled"
        sign = 1 if o.side == "Buy" else -1
        self.positions[o.symbol] = self.positions.get(o.symbol, 0) + sign * qty
        if inv:
            comm = Decimal(qty) / self.price * Decimal("0.00075") * Decimal(10**8)
        else:
            comm = Decimal(qty) * Decimal("0.000001") * self.price * Decimal("0.00075") * 10**6
        row = o.row(inv)
        row.update(
            {
                "execID": str(uuid.uuid4()),
                "execType": "Trade",
                "lastQty": qty,
                "lastPx": float(self.price),
                "lastLiquidityInd": "RemovedLiquidity",
                "commission": 0.00075,
                "execComm": int(comm.quantize(Decimal(1), ROUND_HALF_UP)),
                "trdMatchID": str(uuid.uuid4()),
            }
        )
        self._push("execution", "insert", [row])
        avg = o.avg(inv)
        self._push(
            "order",
            "update",
            [
                {
                    "orderID": o.order_id,
                    "account": 2,
                    "symbol": o.symbol,
                    "ordStatus": o.status,
                    "cumQty": o.cum,
                    "leavesQty": o.qty - o.cum,
                    "avgPx": float(avg) if avg else None,
                    "workingIndicator": o.status in OPEN,
                    "timestamp": iso(),
                }
            ],
        )
        self._push(
            "position",
            "update",
            [
                {
                    "account": 2,
                    "symbol": o.symbol,
                    "currency": "XBt" if inv else "USDt",
                    "currentQty": self.positions[o.symbol],
                }
            ],
        )

    def _accept(self, p: dict[str, Any]) -> Order | web.Response:
        cid = str(p.get("clOrdID", ""))
        symbol, side = p.get("symbol", ""), p.get("side", "")
        qty = p.get("orderQty")
        if not isinstance(qty, int) or qty <= 0 or qty % self.lot(symbol):
            return self._err(f"Order quantity must be a multiple of lot size: {self.lot(symbol)}")
        if any(o.cid == cid and o.status in OPEN for o in self.orders):
            return self._err("Duplicate clOrdID")
        if cid in self.reject_margin:
            return self._err(
                "Account has insufficient Available Balance, 20304 XBt required",
                name="ValidationError",
            )
        o = Order(str(uuid.uuid4()), cid, symbol, side, qty, str(p.get("execInst", "")))
        self.orders.append(o)
        inv = self.inverse(symbol)
        pos = self.positions.get(symbol, 0)
        if "ReduceOnly" in o.exec_inst:
            reducing = (pos > 0 and side == "Sell") or (pos < 0 and side == "Buy")
            if not reducing:
                o.status = "Canceled"
                o.text = "Canceled: Order had execInst of ReduceOnly and would not reduce"
                self._push("order", "insert", [o.row(inv)])
                return o
            o.qty = min(qty, abs(pos))
        self._push("order", "insert", [o.row(inv)])
        newrow = o.row(inv)
        newrow.update({"execID": str(uuid.uuid4()), "execType": "New", "lastQty": None})
        self._push("execution", "insert", [newrow])
        steps = self.partial.get(cid) or self.partial.get("*")
        if steps:
            self._fill(o, steps[0])
            for i, step in enumerate(steps[1:], start=1):
                self.later(self.partial_every_s * i, lambda o=o, s=step: self._fill(o, s))
        else:
            self._fill(o, o.qty)
        return o

    # ------------------------------------------------------------ handlers
    async def h_instrument(self, request: web.Request) -> web.Response:
        await self.record(request)
        sym = request.query.get("symbol")
        return self._json([i for i in self.instruments if sym in (None, i["symbol"])])

    async def h_position(self, request: web.Request) -> web.Response:
        _, err = await self._auth(request)
        if err:
            return err
        fault = self.take_fault("GET /api/v1/position")
        if fault is not None:
            return self._json(fault.body or OVERLOADED, fault.status or 503, fault.headers)
        flt = json.loads(request.query.get("filter", "{}"))
        rows = []
        for sym, qty in self.positions.items():
            if flt.get("symbol") in (None, sym):
                row = {
                    "account": 2,
                    "symbol": sym,
                    "currency": "XBt",
                    "currentQty": qty,
                    "isOpen": qty != 0,
                    "markPrice": float(self.price),
                }
                if self.hedged:
                    row["strategy"] = "Long" if qty >= 0 else "Short"
                rows.append(row)
        if self.hedged and not rows:
            rows.append({"account": 2, "symbol": "XBTUSD", "currentQty": 0, "strategy": "Long"})
        return self._json(rows)

    async def h_new(self, request: web.Request) -> web.Response:
        p, err = await self._auth(request)
        if err:
            return err
        fault = self.take_fault("POST /api/v1/order")
        if fault is not None and fault.status and not fault.process:
            await asyncio.sleep(fault.respond_after_s)
            return self._json(
                fault.body or OVERLOADED, fault.status, fault.headers, order_route=True
            )
        if fault is not None and fault.drop:
            await asyncio.sleep(fault.respond_after_s)
            return self._json(OVERLOADED, 503, order_route=True)
        if fault is not None and fault.process_after_s:
            self.later(fault.process_after_s, lambda: self._accept(p))
            await asyncio.sleep(fault.respond_after_s)
            return self._json(OVERLOADED, 503, order_route=True)
        res = self._accept(p)
        if fault is not None:
            await asyncio.sleep(fault.respond_after_s)
        if isinstance(res, web.Response):
            return res
        return self._json(res.row(self.inverse(res.symbol)), order_route=True)

    async def h_query(self, request: web.Request) -> web.Response:
        _, err = await self._auth(request)
        if err:
            return err
        flt = json.loads(request.query.get("filter", "{}"))
        rows = [
            o.row(self.inverse(o.symbol))
            for o in self.orders
            if o.cid == flt.get("clOrdID") and o.symbol == request.query.get("symbol")
        ]
        return self._json(list(reversed(rows))[: int(request.query.get("count", "100"))])

    async def h_cancel(self, request: web.Request) -> web.Response:
        p, err = await self._auth(request)
        if err:
            return err
        mine = [o for o in self.orders if o.cid == p.get("clOrdID")]
        if not mine:
            return self._err("Not Found", 404)
        o = mine[-1]
        row = o.row(self.inverse(o.symbol))
        if o.status in OPEN:
            o.status = "Canceled"
            row = o.row(self.inverse(o.symbol))
        else:
            row["error"] = f"Unable to cancel order due to existing state: {o.status}"
        return self._json([row], order_route=True)

    async def h_cancel_all(self, request: web.Request) -> web.Response:
        p, err = await self._auth(request)
        if err:
            return err
        rows = []
        for o in self.orders:
            if o.symbol == p.get("symbol") and o.status in OPEN:
                o.status = "Canceled"
                rows.append(o.row(self.inverse(o.symbol)))
        return self._json(rows, order_route=True)

    async def h_margin(self, request: web.Request) -> web.Response:
        _, err = await self._auth(request)
        if err:
            return err
        ccy = request.query.get("currency", "XBt")
        wallet = self.wallet_xbt_sat if ccy == "XBt" else 0
        return self._json(
            {
                "account": 2,
                "currency": ccy,
                "walletBalance": wallet,
                "marginBalance": wallet,
                "availableMargin": wallet,
                "timestamp": iso(),
            }
        )

    async def h_ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        await ws.send_str(
            json.dumps(
                {
                    "info": "Welcome to the BitMEX Realtime API.",
                    "version": "2.0.0",
                    "timestamp": iso(),
                    "docs": "https://testnet.bitmex.com/app/wsAPI",
                    "heartbeatEnabled": False,
                    "limit": {"remaining": 39},
                }
            )
        )
        authed = False
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                if msg.data == "ping":
                    await ws.send_str("pong")
                    continue
                req = json.loads(msg.data)
                if req.get("op") == "authKeyExpires":
                    key, expires, sig = req["args"]
                    want = hmac.new(
                        self.secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256
                    ).hexdigest()
                    authed = key == self.key and sig == want
                    if authed:
                        await ws.send_str(json.dumps({"success": True, "request": req}))
                    else:
                        await ws.send_str(
                            json.dumps(
                                {"status": 401, "error": "Signature not valid.", "request": req}
                            )
                        )
                elif req.get("op") == "subscribe":
                    for topic in req["args"]:
                        if not authed:
                            await ws.send_str(
                                json.dumps(
                                    {
                                        "status": 401,
                                        "error": "User requested an account-locked "
                                        "subscription but no authorization was provided.",
                                        "request": req,
                                    }
                                )
                            )
                            continue
                        await ws.send_str(
                            json.dumps({"success": True, "subscribe": topic, "request": req})
                        )
                        await ws.send_str(
                            json.dumps(
                                {
                                    "table": topic,
                                    "action": "partial",
                                    "keys": ["orderID"],
                                    "data": [],
                                }
                            )
                        )
                    if authed:
                        self.sockets.append(ws)
        finally:
            if ws in self.sockets:
                self.sockets.remove(ws)
        return ws

    async def drop_sockets(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
