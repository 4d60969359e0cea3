"""A fake Bybit v5 account on 127.0.0.1 (REST private side and the private WebSocket), speaking
the v5 wire format, for ccxt ``bybit`` and :mod:`core.venues.bybit.user_stream`.

REST (Bybit docs ``guide.mdx``): signed with ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP``,
``X-BAPI-RECV-WINDOW`` and ``X-BAPI-SIGN`` = HMAC-SHA256(secret, timestamp + key + recv_window
+ query string or JSON body); a timestamp outside ``[server - recv_window, server + 1000)``
is refused with retCode 10002. Every answer is HTTP 200 with ``retCode``/``retMsg``/``result``
(errors included), and private answers carry ``X-Bapi-Limit``, ``X-Bapi-Limit-Status`` and
``X-Bapi-Limit-Reset-Timestamp`` (ms) as the docs' rate-limit example shows. Bodies are the
docs' examples (``tests/data/bybit/private_rest_docs_examples.json``) with this fake's values:
``/v5/market/time``, ``/v5/market/instruments-info`` (linear BTCUSDT docs example; inverse
BTCUSD hand-made; the ``symbol`` and ``status`` filters as the venue applies them),
``/v5/order/create``, ``/v5/order/realtime``, ``/v5/order/history``,
``/v5/order/cancel``, ``/v5/order/cancel-all``, ``/v5/position/list``,
``/v5/position/switch-mode``, ``/v5/account/wallet-balance``.

Behaviour kept from the venue: market orders fill at ``price`` (or in ``partial`` steps); a
duplicate ``orderLinkId`` is 110072; a ``reduceOnly`` order that would not reduce is 110017
(its text is ``reduce_only_text``: Bybit's table and ccxt disagree, both are real); an id in
``reject_margin`` is 110007; a quantity off the step or with an exponent is 10001; an unknown
order is 110001; taker fee 0.055 % (USDT linear, BTC inverse).

Private WebSocket ``/v5/private`` (docs ``websocket/wss-authentication.mdx``): ``auth`` with
HMAC-SHA256(secret, "GET/realtime" + expires), ``subscribe`` acks, JSON ``ping`` -> private
pong; pushes ``order``, ``execution`` (Trade rows; ``push_funding`` sends a Funding row),
``position`` and ``wallet`` frames built on the docs' stream examples.
"""

from __future__ import annotations

import asyncio
import copy
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

DATA = Path(__file__).resolve().parent.parent / "data" / "bybit"
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
OPEN = ("New", "PartiallyFilled")
TAKER = Decimal("0.00055")
#: The two texts of retCode 110017 (Bybit's error table; ccxt's comment).
REDUCE_ONLY_TEXTS = ("orderQty will be truncated to zero", "Reduce-only rule not satisfied")


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def docs(name: str, key: str) -> Any:
    """A docs example body (deep copy) from ``private_*_docs_examples.json``."""
    return copy.deepcopy(load(name)[key]["body"])


def ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Order:
    order_id: str
    cid: str
    category: str
    symbol: str
    side: str
    qty: Decimal
    reduce_only: bool
    status: str = "New"
    cum: Decimal = Decimal(0)
    value: Decimal = Decimal(0)
    """Linear: sum qty x price (USDT); inverse: sum qty / price (BTC)."""
    fee: Decimal = Decimal(0)
    created_ms: int = field(default_factory=ms)
    updated_ms: int = field(default_factory=ms)

    def avg(self) -> Decimal:
        if not self.cum:
            return Decimal(0)
        if self.category == "inverse":
            return (self.cum / self.value).quantize(Decimal("0.01"))
        return (self.value / self.cum).quantize(Decimal("0.01"))

    def row(self) -> dict[str, Any]:
        """The docs' ``/v5/order/realtime`` row with this order's values."""
        r = docs("private_rest_docs_examples.json", "order_realtime")["result"]["list"][0]
        r.update(
            {
                "orderId": self.order_id,
                "orderLinkId": self.cid,
                "symbol": self.symbol,
                "price": "0",
                "qty": str(self.qty),
                "side": self.side,
                "positionIdx": 0,
                "orderStatus": self.status,
                "avgPrice": str(self.avg()) if self.cum else "",
                "leavesQty": str(self.qty - self.cum if self.status in OPEN else 0),
                "leavesValue": "0",
                "cumExecQty": str(self.cum),
                "cumExecValue": str(self.value),
                "cumExecFee": str(self.fee),
                "timeInForce": "IOC",
                "orderType": "Market",
                "takeProfit": "",
                "stopLoss": "",
                "reduceOnly": self.reduce_only,
                "createdTime": str(self.created_ms),
                "updatedTime": str(self.updated_ms),
            }
        )
        r.pop("cumFeeDetail", None)
        return r


class FakeBybit(FakeServer):
    """State: ``orders`` (accepted), ``positions`` (signed BTC or contracts per symbol),
    ``wallet`` (coin -> balance)."""

    def __init__(self, key: str, secret: str) -> None:
        super().__init__()
        self.key, self.secret = key, secret
        self.price = Decimal("50000")
        self.orders: list[Order] = []
        self.positions: dict[str, Decimal] = {}
        self.wallet = {"USDT": Decimal("100000"), "BTC": Decimal("0.5")}
        self.hedged = False
        self.reject_margin: set[str] = set()
        self.cancel_reduce_only = False
        """Cancel every reduce-only order with nothing filled (accepted, then "Cancelled")."""
        self.reduce_only_text = REDUCE_ONLY_TEXTS[1]
        self.partial: dict[str, list[Decimal]] = {}
        self.partial_every_s = 0.05
        self.stream_delay_s = 0.0
        self.stream_muted = False
        self.ws_refused = False
        self.clock_skew_ms = 0
        self.limit = 10
        self.limit_left = 10_000
        self.sockets: list[web.WebSocketResponse] = []
        self.pings = 0
        self.answer_pings = True
        self.auth_attempts = 0
        self.instruments = {
            "linear": load("rest_docs_instruments_info_linear_BTCUSDT.json"),
            "inverse": load("rest_handmade_instruments_info_inverse_BTCUSD.json"),
        }
        self._ids = itertools.count(1321003749386327552)
        r = self.app.router
        r.add_get("/v5/market/time", self.h_time)
        r.add_get("/v5/market/instruments-info", self.h_instruments)
        r.add_post("/v5/order/create", self.h_create)
        r.add_get("/v5/order/realtime", self.h_realtime)
        r.add_get("/v5/order/history", self.h_history)
        r.add_post("/v5/order/cancel", self.h_cancel)
        r.add_post("/v5/order/cancel-all", self.h_cancel_all)
        r.add_get("/v5/position/list", self.h_positions)
        r.add_post("/v5/position/switch-mode", self.h_switch_mode)
        r.add_get("/v5/account/wallet-balance", self.h_wallet)
        r.add_get("/v5/private", self.h_ws)

    # ------------------------------------------------------------ plumbing
    def category_of(self, symbol: str) -> str:
        for cat, body in self.instruments.items():
            if any(i["symbol"] == symbol for i in body["result"]["list"]):
                return cat
        return ""

    def step(self, symbol: str) -> Decimal:
        cat = self.category_of(symbol)
        row = next(i for i in self.instruments[cat]["result"]["list"] if i["symbol"] == symbol)
        return dec(row["lotSizeFilter"]["qtyStep"])

    def placed(self, cid: str | None = None) -> list[Order]:
        return [o for o in self.orders if cid is None or o.cid == cid]

    def rest_order(self, symbol: str, side: str, qty: str, cid: str = "") -> Order:
        """An order resting on the book, not filled: placed by hand on the web site (or left
        by an earlier run); arbtui does not know its id."""
        o = Order(
            str(next(self._ids)), cid or f"web-{uuid.uuid4().hex[:16]}",
            self.category_of(symbol), symbol, side.capitalize(), Decimal(qty), False,
        )  # fmt: skip
        self.orders.append(o)
        return o

    def open_orders(self, symbol: str) -> list[Order]:
        """Orders still open on ``symbol``."""
        return [o for o in self.orders if o.symbol == symbol and o.status in OPEN]

    def answer(
        self,
        result: Any = None,
        code: int = 0,
        msg: str = "OK",
        headers: dict[str, str] | None = None,
        private: bool = True,
    ) -> web.Response:
        body = {
            "retCode": code,
            "retMsg": msg,
            "result": {} if result is None else result,
            "retExtInfo": {},
            "time": ms() + self.clock_skew_ms,
        }
        h: dict[str, str] = {}
        if private:
            self.limit_left = max(self.limit_left - 1, 0)
            h = {
                "X-Bapi-Limit": str(self.limit),
                "X-Bapi-Limit-Status": str(min(self.limit_left, self.limit - 1)),
                "X-Bapi-Limit-Reset-Timestamp": str(ms() + 1000),
                "Traceid": uuid.uuid4().hex,
                "Timenow": str(ms()),
            }
        h.update(headers or {})
        return web.Response(
            text=json.dumps(body), status=200, headers=h, content_type="application/json"
        )

    async def _auth(self, request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
        body = await self.record(request)
        h = request.headers
        if h.get("X-BAPI-API-KEY") != self.key:
            return {}, self.answer(code=10003, msg="API key is invalid.")
        ts, recv = h.get("X-BAPI-TIMESTAMP", ""), h.get("X-BAPI-RECV-WINDOW", "5000")
        payload = body if request.method == "POST" else request.rel_url.raw_query_string
        want = hmac.new(
            self.secret.encode(), f"{ts}{self.key}{recv}{payload}".encode(), hashlib.sha256
        ).hexdigest()
        if h.get("X-BAPI-SIGN") != want:
            return {}, self.answer(code=10004, msg="error sign! origin_string[...]")
        server = ms() + self.clock_skew_ms
        if not server - int(recv) <= int(ts) < server + 1000:
            return {}, self.answer(
                code=10002,
                msg=f"invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{ts}],server_timestamp[{server}],recv_window[{recv}]",
            )
        if request.method == "POST":
            return (json.loads(body) if body else {}), None
        return dict(parse_qsl(payload, keep_blank_values=True)), None

    async def _fault(self, route: str) -> tuple[Fault | None, web.Response | None]:
        f = self.take_fault(route)
        if f is None:
            return None, None
        if f.body is not None and not f.process:
            await asyncio.sleep(f.respond_after_s)
            if f.status and f.status != 200:
                return f, web.Response(text=str(f.body), status=f.status, headers=f.headers)
            b = f.body
            return f, self.answer(b.get("result"), b["retCode"], b["retMsg"], f.headers)
        return f, None

    def _push(self, topic: str, rows: list[dict[str, Any]]) -> None:
        if self.stream_muted:
            return
        frame = {
            "id": f"{uuid.uuid4().hex}",
            "topic": topic,
            "creationTime": ms(),
            "data": rows,
        }
        text = json.dumps(frame)

        async def send() -> None:
            for ws in list(self.sockets):
                if not ws.closed:
                    await ws.send_str(text)

        self.later(self.stream_delay_s, send)

    def push_frame(self, frame: dict[str, Any]) -> None:
        """Send ``frame`` as it is on every private socket."""
        text = json.dumps(frame)

        async def send() -> None:
            for ws in list(self.sockets):
                if not ws.closed:
                    await ws.send_str(text)

        self.later(0.0, send)

    # ------------------------------------------------------------ engine
    def _fill(self, o: Order, qty: Decimal) -> None:
        inverse = o.category == "inverse"
        o.cum += qty
        o.value += qty / self.price if inverse else qty * self.price
        fee = (qty / self.price if inverse else qty * self.price) * TAKER
        o.fee += fee
        o.status = "Filled" if o.cum == o.qty else "PartiallyFilled"
        o.updated_ms = ms()
        sign = 1 if o.side == "Buy" else -1
        self.positions[o.symbol] = self.positions.get(o.symbol, Decimal(0)) + sign * qty
        ex = docs("private_ws_docs_examples.json", "execution")["data"][0]
        ex.update(
            {
                "category": o.category,
                "symbol": o.symbol,
                "closedSize": "0",
                "execFee": str(fee),
                "execId": str(uuid.uuid4()),
                "execPrice": str(self.price),
                "execQty": str(qty),
                "execType": "Trade",
                "execValue": str(qty / self.price if inverse else qty * self.price),
                "feeRate": str(TAKER),
                "markPrice": str(self.price),
                "leavesQty": str(o.qty - o.cum),
                "orderId": o.order_id,
                "orderLinkId": o.cid,
                "orderPrice": str(self.price),
                "orderQty": str(o.qty),
                "side": o.side,
                "execTime": str(ms()),
                "execPnl": "0",
                "feeCurrency": "BTC" if inverse else "USDT",
            }
        )
        ex.pop("extraFees", None)
        self._push("execution", [ex])
        self._push("order", [self._order_topic_row(o)])
        self._push("position", [self._position_row(o.symbol)])

    def change_position(self, symbol: str, qty: Decimal) -> None:
        """The position becomes ``qty`` without an order of arbtui's (a liquidation, an
        auto-deleverage, a trade by hand); the ``position`` topic says so."""
        self.positions[symbol] = qty
        self._push("position", [self._position_row(symbol)])

    def _order_topic_row(self, o: Order) -> dict[str, Any]:
        row = docs("private_ws_docs_examples.json", "order")["data"][0]
        row.update(o.row())
        row["category"] = o.category
        return row

    def _position_row(self, symbol: str, idx: int = 0) -> dict[str, Any]:
        row = docs("private_ws_docs_examples.json", "position")["data"][0]
        size = self.positions.get(symbol, Decimal(0))
        row.update(
            {
                "positionIdx": idx,
                "symbol": symbol,
                "side": "Buy" if size > 0 else "Sell" if size < 0 else "",
                "size": str(abs(size)),
                "markPrice": str(self.price),
                "category": self.category_of(symbol),
                "updatedTime": str(ms()),
            }
        )
        return row

    def _accept(self, p: dict[str, Any]) -> Order | web.Response:
        cid = str(p.get("orderLinkId", ""))
        symbol, side = str(p.get("symbol", "")), str(p.get("side", ""))
        cat = str(p.get("category", ""))
        if cat != self.category_of(symbol):
            return self.answer(code=10001, msg="params error: symbol invalid")
        if not ID_RE.match(cid):
            return self.answer(code=10001, msg="params error: orderLinkId invalid")
        qty_s = str(p.get("qty", ""))
        if not qty_s or "e" in qty_s.lower():
            return self.answer(code=10001, msg="Qty invalid")
        qty = dec(qty_s)
        if qty <= 0 or qty % self.step(symbol) != 0:
            return self.answer(code=10001, msg="Qty invalid")
        if str(p.get("positionIdx", "0")) != "0" or self.hedged:
            return self.answer(code=10001, msg="position idx not match position mode")
        if any(o.cid == cid for o in self.orders):
            return self.answer(code=110072, msg="OrderLinkedID is duplicate")
        if cid in self.reject_margin:
            return self.answer(code=110007, msg="ab not enough for new order")
        pos = self.positions.get(symbol, Decimal(0))
        reduce_only = p.get("reduceOnly") in (True, "true")
        if reduce_only and self.cancel_reduce_only:  # accepted, then cancelled: nothing filled
            o = Order(str(next(self._ids)), cid, cat, symbol, side, qty, True)
            self.orders.append(o)
            self._push("order", [self._order_topic_row(o)])
            o.status = "Cancelled"
            o.updated_ms = ms()
            self._push("order", [self._order_topic_row(o)])
            return o
        if reduce_only:
            reducing = (pos > 0 and side == "Sell") or (pos < 0 and side == "Buy")
            if not reducing:
                return self.answer(code=110017, msg=self.reduce_only_text)
            qty = min(qty, abs(pos))
        o = Order(str(next(self._ids)), cid, cat, symbol, side, qty, reduce_only)
        self.orders.append(o)
        self._push("order", [self._order_topic_row(o)])
        self.fill_as_set(o, cid, qty, self._fill)
        return o

    # ------------------------------------------------------------ handlers
    async def h_time(self, request: web.Request) -> web.Response:
        await self.record(request)
        now = ms() + self.clock_skew_ms
        return self.answer(
            {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}, private=False
        )

    async def h_instruments(self, request: web.Request) -> web.Response:
        await self.record(request)
        fault = self.take_fault("GET /v5/market/instruments-info")
        if fault is not None:  # a slow answer (``respond_after_s``)
            await asyncio.sleep(fault.respond_after_s)
        cat = request.query.get("category", "")
        body = copy.deepcopy(self.instruments.get(cat))
        if body is None:
            return self.answer({"category": cat, "list": [], "nextPageCursor": ""}, private=False)
        symbol, status = request.query.get("symbol"), request.query.get("status")
        rows = body["result"]["list"]
        if symbol:  # the venue's filters: one symbol; a status (PreLaunch: none listed here)
            rows = [r for r in rows if r.get("symbol") == symbol]
        if status:
            rows = [r for r in rows if r.get("status") == status]
        body["result"]["list"] = rows
        return web.json_response(body)

    async def h_create(self, request: web.Request) -> web.Response:
        p, err = await self._auth(request)
        if err:
            return err
        fault, answer = await self._fault("POST /v5/order/create")
        if answer is not None:
            return answer
        if fault is not None and fault.drop:
            await asyncio.sleep(fault.respond_after_s)
            return self.answer(code=10016, msg="System error. Please try again later.")
        if fault is not None and fault.process_after_s:
            self.later(fault.process_after_s, lambda: self._accept(p))
            await asyncio.sleep(fault.respond_after_s)
            return self.answer(code=10016, msg="System error. Please try again later.")
        res = self._accept(p)
        if fault is not None:
            await asyncio.sleep(fault.respond_after_s)
        if isinstance(res, web.Response):
            return res
        return self.answer({"orderId": res.order_id, "orderLinkId": res.cid})

    def _find(self, p: dict[str, Any]) -> list[Order]:
        return [
            o
            for o in self.orders
            if o.symbol == p.get("symbol")
            and p.get("orderLinkId") in (None, o.cid)
            and p.get("orderId") in (None, o.order_id)
        ]

    async def h_realtime(self, request: web.Request) -> web.Response:
        p, err = await self._auth(request)
        if err:
            return err
        _, answer = await self._fault("GET /v5/order/realtime")
        if answer is not None:
            return answer
        rows = self._find(p)
        if "orderLinkId" not in p and "orderId" not in p:
            rows = [o for o in rows if o.status in OPEN]
        return self.answer(
            {
                "list": [o.row() for o in reversed(rows)],
                "nextPageCursor": "",
                "category": p.get("category"),
            }
        )

    async def h_history(self, request: web.Request) -> web.Response:
        p, err = await self._auth(request)
        if err:
            return err
        rows = [o for o in self._find(p) if o.status not in OPEN]
        return self.answer(
            {
                "list": [o.row() for o in reversed(rows)],
                "nextPageCursor": "",
                "category": p.get("category"),
            }
        )

    async def h_cancel(self, request: web.Request) -> web.Response:
        p, err = await self._auth(request)
        if err:
            return err
        mine = [o for o in self._find(p) if o.status in OPEN]
        if not mine:
            return self.answer(code=110001, msg="Order does not exist.")
        o = mine[-1]
        o.status = "PartiallyFilledCanceled" if o.cum else "Cancelled"
        o.updated_ms = ms()
        self._push("order", [self._order_topic_row(o)])
        return self.answer({"orderId": o.order_id, "orderLinkId": o.cid})

    async def h_cancel_all(self, request: web.Request) -> web.Response:
        p, err = await self._auth(request)
        if err:
            return err
        done = []
        for o in self.orders:
            if o.symbol == p.get("symbol") and o.status in OPEN:
                o.status = "PartiallyFilledCanceled" if o.cum else "Cancelled"
                self._push("order", [self._order_topic_row(o)])
                done.append({"orderId": o.order_id, "orderLinkId": o.cid})
        return self.answer({"list": done, "success": "1"})

    async def h_positions(self, request: web.Request) -> web.Response:
        p, err = await self._auth(request)
        if err:
            return err
        _, answer = await self._fault("GET /v5/position/list")
        if answer is not None:
            return answer
        template = docs("private_rest_docs_examples.json", "position_list_inverse")
        symbol = p.get("symbol", "")
        rows = []
        for idx in (1, 2) if self.hedged else (0,):
            row = template["result"]["list"][0]
            row.update(self._position_row(symbol, idx))
            row.pop("category", None)
            if self.hedged:
                row.update({"side": "", "size": "0"})
            rows.append(copy.deepcopy(row))
        return self.answer({"list": rows, "nextPageCursor": "", "category": p.get("category")})

    async def h_switch_mode(self, request: web.Request) -> web.Response:
        p, err = await self._auth(request)
        if err:
            return err
        hedged = str(p.get("mode")) == "3"
        if hedged == self.hedged:
            return self.answer(code=110025, msg="Position mode is not modified")
        self.hedged = hedged
        return self.answer(docs("private_rest_docs_examples.json", "switch_mode")["result"])

    async def h_wallet(self, request: web.Request) -> web.Response:
        p, err = await self._auth(request)
        if err:
            return err
        body = docs("private_rest_docs_examples.json", "wallet_balance")["result"]
        template = body["list"][0]["coin"][0]
        coins = []
        for coin, bal in self.wallet.items():
            if p.get("coin") in (None, coin):
                row = dict(template)
                row.update({"coin": coin, "walletBalance": str(bal), "equity": str(bal)})
                coins.append(row)
        body["list"][0]["coin"] = coins
        return self.answer(body)

    # ------------------------------------------------------------ private stream
    def push_funding(self, row: dict[str, Any]) -> None:
        """Send one ``execution`` frame holding ``row`` (e.g. a Funding row)."""
        self._push("execution", [row])

    async def h_ws(self, request: web.Request) -> web.WebSocketResponse:
        if self.ws_refused:
            raise web.HTTPServiceUnavailable()
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        authed = False
        conn = uuid.uuid4().hex[:20] + "-1"
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                req = json.loads(msg.data)
                op = req.get("op")
                if op == "auth":
                    self.auth_attempts += 1
                    key, expires, sig = req["args"]
                    want = hmac.new(
                        self.secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256
                    ).hexdigest()
                    authed = key == self.key and sig == want and int(expires) > ms()
                    if authed:
                        ok = docs("private_ws_docs_examples.json", "auth_success")
                        ok["conn_id"] = conn
                        await ws.send_str(json.dumps(ok))
                    else:
                        await ws.send_str(
                            json.dumps(load("private_ws_nautilus_auth_failure_handmade.json"))
                        )
                elif op == "subscribe":
                    ack = docs("private_ws_docs_examples.json", "subscribe_ack_private")
                    ack.update({"conn_id": conn, "req_id": req.get("req_id", "")})
                    if not authed:
                        ack.update({"success": False, "ret_msg": "Request not authorized"})
                    await ws.send_str(json.dumps(ack))
                    if authed and ws not in self.sockets:
                        self.sockets.append(ws)
                elif op == "ping":
                    self.pings += 1
                    if not self.answer_pings:
                        continue
                    pong = docs("private_ws_docs_examples.json", "pong_private")
                    pong.update({"req_id": req.get("req_id", ""), "args": [str(ms())]})
                    pong["conn_id"] = conn
                    await ws.send_str(json.dumps(pong))
        finally:
            if ws in self.sockets:
                self.sockets.remove(ws)
        return ws

    async def drop_sockets(self) -> None:
        """Close every private socket (the client must reconnect)."""
        for ws in list(self.sockets):
            await ws.close()
