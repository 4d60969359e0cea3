"""Fake Binance USD-M streams: ``/market/stream?streams=...`` and ``/public/stream?...``
(combined streams), sending the real recorded frame of each subscribed stream every
``interval_s``. ``big`` (a real frame text) is sent once on every connection when set.
``set_prices(mark=..., bid=..., ask=...)`` rewrites the recorded frames' prices (the mark
``p`` of ``markPriceUpdate``, ``b``/``a`` of ``bookTicker``): every connection sends the new
frames from its next tick on.

Live subscribing (Binance "Live Subscribing"): ``{"method": "SUBSCRIBE", "params": [stream,
...], "id": n}`` on a connection adds those streams to it and is answered ``{"result": null,
"id": n}``; every request is kept in ``requests`` (path, request). Besides BTCUSDT the fake
serves ETHUSDT's two streams (real frames: :func:`frames.binance_eth_frames`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from tests.fake_exchange import frames
from tests.fake_exchange.ws_base import Conn, FakeWsServer


class FakeBinance(FakeWsServer):
    def __init__(self, interval_s: float = 0.05) -> None:
        super().__init__(interval_s)
        self.by_stream: dict[str, list[str]] = {}
        for text in (frames.binance_mark_price(), frames.binance_book_ticker()):
            self.by_stream.setdefault(json.loads(text)["stream"], []).append(text)
        for stream, text in frames.binance_eth_frames().items():
            self.by_stream[stream] = [text]
        self.requests: list[tuple[str, dict[str, object]]] = []
        self.big: str | None = None
        self.bad_paths: list[str] = []

    def set_prices(self, *, mark: str = "", bid: str = "", ask: str = "") -> None:
        """From now on the frames carry these prices (strings as Binance sends them)."""
        for stream, texts in self.by_stream.items():
            out = []
            for text in texts:
                obj = json.loads(text)
                d = obj["data"]
                if mark and stream.endswith("@markPrice@1s"):
                    d["p"] = mark
                if d.get("e") == "bookTicker":
                    d["b"] = bid or d["b"]
                    d["a"] = ask or d["a"]
                out.append(frames.compact(obj))
            self.by_stream[stream] = out

    async def serve(self, ws: ServerConnection, conn: Conn, closed: asyncio.Future[None]) -> None:
        parts = urlsplit(conn.path)
        streams = parse_qs(parts.query).get("streams", [""])[0].split("/")
        want = {"/market/stream": "@markPrice", "/public/stream": "@bookTicker"}.get(parts.path)
        if want is None or not all(want in s for s in streams):
            self.bad_paths.append(conn.path)  # a stream on the wrong path gets nothing
            await ws.close(1008, "wrong path for this stream")
            return
        sent_big = False
        reader = asyncio.ensure_future(self._read(ws, conn.path, streams, want))
        try:
            await self._send_loop(ws, conn, closed, streams, sent_big)
        finally:
            reader.cancel()

    async def _read(self, ws: ServerConnection, path: str, streams: list[str], want: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self._requests(ws, path, streams, want)

    async def _requests(
        self, ws: ServerConnection, path: str, streams: list[str], want: str
    ) -> None:
        async for text in ws:
            try:
                req = json.loads(text)
            except ValueError:
                continue
            if not isinstance(req, dict) or req.get("method") != "SUBSCRIBE":
                continue
            self.requests.append((path, req))
            params = [p for p in req.get("params", []) if isinstance(p, str) and want in p]
            streams.extend(p for p in params if p not in streams)
            await ws.send(json.dumps({"result": None, "id": req.get("id")}))

    async def _send_loop(
        self,
        ws: ServerConnection,
        conn: Conn,
        closed: asyncio.Future[None],
        streams: list[str],
        sent_big: bool,
    ) -> None:
        while True:
            texts = [t for s in streams for t in self.by_stream.get(s, [])]
            if self.vanish:
                await self.hang(ws, closed)
                return
            if self.big is not None and not sent_big:
                sent_big = True
                await ws.send(self.big)
            if not self.silent:
                for t in texts:
                    await ws.send(t)
                    conn.sent += 1
            if not await self.tick(closed):
                return
