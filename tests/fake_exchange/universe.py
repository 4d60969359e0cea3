"""Fake Binance USD-M and Bybit v5 universe endpoints on 127.0.0.1 (one aiohttp server; the
two venues' paths do not overlap, so both ``[feeds] *_rest_url`` point at it), for the
funding scanner (``arbtui scan``, ``core/runtime/scanner.py``).

What is real and what is generated (``tests/data/README.md``, "Funding scanner"):

- REAL: Binance ``premiumIndex`` rows BTCUSDT, XAUUSDT, 币安人生USDT (polyoxide, 2026) and
  ``fundingInfo`` (the same three symbols); ``exchangeInfo`` rows BTCUSDT, ETHUSDT (cryptofeed,
  2021-07-22).
- DOC-EXAMPLE: Binance ``openInterest`` of BTCUSDT (10659.509 contracts, the docs' answer).
- DOC-EXAMPLE: Bybit instruments-info linear BTCUSDT (``fundingInterval`` 480, caps 0.00375),
  tickers inverse BTCUSD (``fundingIntervalHour`` 8, ``fundingCap`` 0.005); the linear BTCUSDT
  ticker is the docs' WebSocket ``tickers`` snapshot's ``data`` (same field names as REST:
  ``fundingRate`` -0.005 at ``fundingCap`` 0.005). HAND-MADE: instruments-info inverse BTCUSD.
- GENERATED (clearly: their assets are named ``GEN01``..): ``exchangeInfo`` rows for XAUUSDT,
  币安人生USDT (its ``contractType`` empty: a perpetual known by its ``deliveryDate`` alone)
  and every GEN symbol; every GEN premiumIndex, fundingInfo, ticker/24hr,
  instruments-info and tickers row; every GEN ``openInterest`` (:data:`GEN_OI_MS`); a dated
  future on each venue (must be dropped); the settled history of the GEN symbols (one row
  per interval back from the request's ``endTime``, each at the symbol's current rate).

Knobs: ``gen`` (GEN assets, default 12), ``page_size`` (Bybit instruments-info rows per page,
``nextPageCursor`` = next offset), ``override`` (path -> JSON body served instead: a bad shape),
``fail`` (paths answered 503), ``fail_symbols`` (``openInterest`` symbol -> HTTP status
answered instead: 503 as an outage, 429 with Binance's "Too many requests" body and
``Retry-After``), ``requests`` (every path with its query, in order).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

DATA = Path(__file__).resolve().parent.parent / "data"
HOUR_MS = 3_600_000
GEN_OI_MS = 1_795_999_880_000
"""The ``time`` of every generated openInterest answer (120 s before the tests' clock)."""


def load(rel: str) -> Any:
    return json.loads((DATA / rel).read_text(encoding="utf-8"))


def gen_binance(i: int) -> dict[str, Any]:
    """GENERATED: Binance GENiiUSDT: rate 0.0001 x (i mod 5 - 1) per 8 h, or per 4 h for
    every third (listed in fundingInfo), mark 10 + i, quoteVolume 1e6 x i, open interest
    2e4 x (13 - i) contracts for i <= 12 (falling as Bybit's rises: each venue's side of the
    min-OI filter bites on some symbol), 2e4 beyond."""
    hours = 4 if i % 3 == 0 else 8
    return {
        "rate": 0.0001 * (i % 5 - 1),
        "hours": hours,
        "mark": 10.0 + i,
        "vol": 1e6 * i,
        "oi": 2e4 * max(13 - i, 1),
    }


def gen_bybit(i: int) -> dict[str, Any]:
    """GENERATED: Bybit GENiiUSDT (linear): rate 0.00005 x (i mod 4) per 8 h, or per 1 h for
    every fourth, mark (10 + i) x 1.001, turnover24h 5e5 x i, openInterestValue 1e5 x i."""
    hours = 1 if i % 4 == 0 else 8
    return {
        "rate": 0.00005 * (i % 4),
        "hours": hours,
        "mark": round((10.0 + i) * 1.001, 6),
        "vol": 5e5 * i,
        "oi": 1e5 * i,
    }


class FakeUniverse:
    def __init__(self, gen: int = 12) -> None:
        self.gen = gen
        self.page_size = 1000
        self.override: dict[str, Any] = {}
        self.fail: set[str] = set()
        self.fail_symbols: dict[str, int] = {}
        self.requests: list[str] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self.next_funding_ms = 1_791_388_800_000  # the real premiumIndex rows' value

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeUniverse:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def names(self) -> list[int]:
        return list(range(1, self.gen + 1))

    # ------------------------------------------------------------------ Binance
    def exchange_info(self) -> dict[str, Any]:
        body: dict[str, Any] = load("feeds/binance_rest_exchangeInfo_2021-07-22.json")
        template = body["symbols"][0]
        rows = list(body["symbols"])
        extra = ["XAUUSDT", "币安人生USDT", *(f"GEN{i:02d}USDT" for i in self.names())]
        for symbol in extra:
            rows.append({**template, "symbol": symbol, "pair": symbol,
                         "baseAsset": symbol.removesuffix("USDT")})  # fmt: skip
        # a perpetual without a contract type (ccxt's comment: "eg: BTCST"), known by its
        # deliveryDate 4133404800000 alone
        rows[-len(extra) + 1]["contractType"] = ""
        rows.append({**template, "symbol": "BTCUSDT_261225", "contractType": "CURRENT_QUARTER",
                     "deliveryDate": 1798185600000})  # fmt: skip
        return {**body, "symbols": rows}

    def premium_index(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = load("feeds/binance_rest_premiumIndex.json")
        for i in self.names():
            g = gen_binance(i)
            rows.append(
                {"symbol": f"GEN{i:02d}USDT", "markPrice": f"{g['mark']:.8f}",
                 "indexPrice": f"{g['mark']:.8f}", "estimatedSettlePrice": f"{g['mark']:.8f}",
                 "lastFundingRate": f"{g['rate']:.8f}", "interestRate": "0.00010000",
                 "nextFundingTime": self.next_funding_ms, "time": self.next_funding_ms - 3600}
            )  # fmt: skip
        rows.append(
            {"symbol": "BTCUSDT_261225", "markPrice": "84000.00000000", "indexPrice": "83114.7",
             "estimatedSettlePrice": "83195.99", "lastFundingRate": "", "interestRate": "",
             "nextFundingTime": 0, "time": self.next_funding_ms - 3600}
        )  # fmt: skip
        return rows

    def funding_info(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = load("feeds/binance_rest_fundingInfo.json")
        for i in self.names():
            if gen_binance(i)["hours"] != 8:
                rows.append(
                    {"symbol": f"GEN{i:02d}USDT", "adjustedFundingRateCap": "0.02000000",
                     "adjustedFundingRateFloor": "-0.02000000", "fundingIntervalHours": 4,
                     "disclaimer": False, "updateTime": 1760955417544}
                )  # fmt: skip
        return rows

    def tickers_24h(self) -> list[dict[str, Any]]:
        return [
            {"symbol": f"GEN{i:02d}USDT", "quoteVolume": f"{gen_binance(i)['vol']:.2f}"}
            for i in self.names()
        ] + [{"symbol": "BTCUSDT", "quoteVolume": "9876543210.12"}]

    def open_interest(self, symbol: str) -> web.Response:
        """``GET /fapi/v1/openInterest?symbol=``: the docs' BTCUSDT answer, a generated one
        for GEN symbols, Binance's -1121 for anything else."""
        status = self.fail_symbols.get(symbol)
        if status == 429:
            body = {"code": -1003, "msg": "Too many requests; current limit is 2400 requests"
                    " per minute. Please use the websocket for live updates to avoid polling"
                    " the API."}  # fmt: skip
            return web.json_response(body, status=429, headers={"Retry-After": "7"})
        if status is not None:
            return web.json_response({"error": "overloaded"}, status=status)
        if symbol == "BTCUSDT":
            return web.json_response(load("feeds/binance_rest_openInterest_docs_BTCUSDT.json"))
        if symbol.startswith("GEN") and int(symbol[3:5]) in self.names():
            contracts = gen_binance(int(symbol[3:5]))["oi"]
            return web.json_response(
                {"openInterest": f"{contracts:.3f}", "symbol": symbol, "time": GEN_OI_MS}
            )
        return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)

    def binance_history(self, q: Any) -> list[dict[str, Any]]:
        symbol = q.get("symbol", "")
        start, end = int(q.get("startTime", 0)), int(q.get("endTime", 2**62))
        limit = int(q.get("limit", 100))
        if symbol.startswith("GEN"):
            g = gen_binance(int(symbol[3:5]))
            return _grid(symbol, start, end, g["hours"], g["rate"], "fundingTime")[-limit:]
        rows: list[dict[str, Any]] = load("feeds/binance_rest_fundingRate.json")
        return [r for r in rows if r["symbol"] == symbol and start <= r["fundingTime"] <= end]

    # ------------------------------------------------------------------ Bybit
    def instruments(self, category: str) -> list[dict[str, Any]]:
        if category == "inverse":
            return list(load("bybit/rest_handmade_instruments_info_inverse_BTCUSD.json")
                        ["result"]["list"])  # fmt: skip
        if category != "linear":
            return []
        base = load("bybit/rest_docs_instruments_info_linear_BTCUSDT.json")["result"]["list"][0]
        rows = [base]
        for i in self.names():
            g = gen_bybit(i)
            rows.append({**base, "symbol": f"GEN{i:02d}USDT", "baseCoin": f"GEN{i:02d}",
                         "fundingInterval": g["hours"] * 60})  # fmt: skip
        rows.append({**base, "symbol": "BTC-26DEC26", "contractType": "LinearFutures"})
        rows.append({**base, "symbol": "GENXUSDT", "baseCoin": "GENX", "status": "PreLaunch"})
        return rows

    def tickers(self, category: str) -> list[dict[str, Any]]:
        if category == "inverse":
            return list(load("bybit/rest_docs_tickers_inverse_BTCUSD.json")["result"]["list"])
        if category != "linear":
            return []
        docs = load("bybit/ws_docs_ticker_linear_perpetual.json")["data"]
        rows = [docs]
        for i in self.names():
            g = gen_bybit(i)
            rows.append(
                {"symbol": f"GEN{i:02d}USDT", "markPrice": f"{g['mark']}",
                 "indexPrice": f"{g['mark']}", "fundingRate": f"{g['rate']:.6f}",
                 "nextFundingTime": str(self.next_funding_ms),
                 "fundingIntervalHour": str(g["hours"]), "fundingCap": "0.02",
                 "turnover24h": f"{g['vol']:.4f}", "openInterestValue": f"{g['oi']:.2f}",
                 "volume24h": "1", "openInterest": "1"}
            )  # fmt: skip
        rows.append({**docs, "symbol": "BTC-26DEC26", "fundingRate": "", "nextFundingTime": ""})
        return rows

    def bybit_history(self, q: Any) -> list[dict[str, Any]]:
        symbol = q.get("symbol", "")
        if not symbol.startswith("GEN"):
            return []
        g = gen_bybit(int(symbol[3:5]))
        rows = _grid(symbol, int(q.get("startTime", 0)), int(q["endTime"]), g["hours"],
                     g["rate"], "fundingRateTimestamp")  # fmt: skip
        return list(reversed(rows))[: int(q.get("limit", 200))]  # newest first

    def _ok(self, result: Any) -> web.Response:
        return web.json_response(
            {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 1}
        )

    # ------------------------------------------------------------------ routing
    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(str(request.rel_url))
        path, q = request.path, request.query
        if path in self.fail:
            return web.json_response({"error": "overloaded"}, status=503)
        if path in self.override:
            return web.json_response(self.override[path])
        if path == "/fapi/v1/exchangeInfo":
            return web.json_response(self.exchange_info())
        if path == "/fapi/v1/premiumIndex":
            return web.json_response(self.premium_index())
        if path == "/fapi/v1/fundingInfo":
            return web.json_response(self.funding_info())
        if path == "/fapi/v1/ticker/24hr":
            return web.json_response(self.tickers_24h())
        if path == "/fapi/v1/fundingRate":
            return web.json_response(self.binance_history(q))
        if path == "/fapi/v1/openInterest":
            return self.open_interest(q.get("symbol", ""))
        category = q.get("category", "")
        if path == "/v5/market/instruments-info":
            rows = self.instruments(category)
            at = int(q.get("cursor") or 0)
            size = min(self.page_size, int(q.get("limit", 500)))
            page = rows[at : at + size]
            cursor = str(at + size) if at + size < len(rows) else ""
            return self._ok({"category": category, "list": page, "nextPageCursor": cursor})
        if path == "/v5/market/tickers":
            return self._ok({"category": category, "list": self.tickers(category)})
        if path == "/v5/market/funding/history":
            if "endTime" not in q:
                return web.json_response({"retCode": 10001, "retMsg": "endTime required"})
            return self._ok({"category": category, "list": self.bybit_history(q)})
        return web.json_response({"code": -1, "msg": f"no route {path}"}, status=404)


def _grid(symbol: str, start: int, end: int, hours: int, rate: float, key: str) -> list[Any]:
    """GENERATED settled rows every ``hours`` on the UTC grid in [start, end], oldest first."""
    step = hours * HOUR_MS
    first = -(-start // step) * step
    return [
        {"symbol": symbol, key: str(t) if key.startswith("fundingRate") else t,
         "fundingRate": f"{rate:.8f}"}
        for t in range(first, end + 1, step)
    ]  # fmt: skip
