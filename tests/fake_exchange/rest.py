"""Fake REST of both venues (aiohttp on 127.0.0.1) answering with real recorded responses:
Binance ``/fapi/v1/exchangeInfo`` (2021-07-22 subset), ``/fapi/v1/fundingInfo`` and
``/fapi/v1/fundingRate`` (polyoxide, 2026), BitMEX ``/api/v1/instrument/active`` (2021-07-22
subset). ``funding_rows`` is how many of the recorded settlements are published so far (a
test raises it to make a new settlement appear); ``funding_extra`` are rows (the
``fundingRate`` schema) served after the recorded ones; ``fail`` makes every answer a 503."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fake_exchange import frames


class FakeRest:
    def __init__(self) -> None:
        self.requests: list[str] = []
        self.funding_rows = 3
        self.funding_extra: list[dict[str, Any]] = []
        self.fail = False
        self.status: dict[str, str] = {}
        """exchangeInfo ``status`` by symbol, over the recorded one (e.g. ``SETTLING``)."""
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append(str(request.rel_url))
        if self.fail:
            return web.json_response({"error": "overloaded"}, status=503)
        body: Any
        path = request.path
        if path == "/fapi/v1/exchangeInfo":
            body = frames.load_json("binance_rest_exchangeInfo_2021-07-22.json")
            for row in body["symbols"]:
                row["status"] = self.status.get(row["symbol"], row["status"])
        elif path == "/fapi/v1/fundingInfo":
            body = frames.load_json("binance_rest_fundingInfo.json")
        elif path == "/fapi/v1/fundingRate":
            rows = frames.load_json("binance_rest_fundingRate.json")[: self.funding_rows]
            rows += self.funding_extra
            symbol = request.query.get("symbol")
            body = [r for r in rows if symbol is None or r["symbol"] == symbol]
        elif path in ("/api/v1/instrument/active", "/api/v1/instrument/activeAndIndices"):
            body = frames.bitmex_instruments()
        else:
            return web.json_response({"code": -1, "msg": f"no route {path}"}, status=404)
        return web.json_response(body)
