"""Fake BitMEX realtime: ``subscribe`` / ``unsubscribe`` ops with acks and partials, text
``ping`` -> ``pong``, and every ``interval_s`` the next real recorded frame of each subscribed
table (quote inserts cycle through the capture; the instrument index update repeats; book
updates of ``orderBookL2`` play once through).

Knobs besides the common ones (``silent`` also withholds partials: no data at all, acks
and pongs still come): ``answer_pings``; ``early_update`` (send the instrument
update before the partial); ``book_skip`` (indices of ``orderBookL2`` frames after the partial
that get lost, as a dropped message would be); ``push(text)`` sends a frame to every live
connection (e.g. the real funding insert)."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.server import ServerConnection

from tests.fake_exchange import frames
from tests.fake_exchange.ws_base import Conn, FakeWsServer


class FakeBitmex(FakeWsServer):
    def __init__(self, interval_s: float = 0.05) -> None:
        super().__init__(interval_s)
        self.answer_pings = True
        self.early_update = False
        self.book_skip: set[int] = set()
        self.ops: list[dict[str, object]] = []
        self.pings = 0
        self._outbox: list[asyncio.Queue[str]] = []

    def push(self, text: str) -> None:
        for q in self._outbox:
            q.put_nowait(text)

    def _partial(self, table: str, symbol: str) -> str | None:
        if table == "instrument":
            return frames.bitmex_instrument_partial(symbol)
        if table == "funding":
            return frames.bitmex_funding_partial(symbol)
        got = frames.capture_frames(table, symbol)
        return got[0] if got else None

    async def serve(self, ws: ServerConnection, conn: Conn, closed: asyncio.Future[None]) -> None:
        outbox: asyncio.Queue[str] = asyncio.Queue()
        self._outbox.append(outbox)
        subs: dict[tuple[str, str], int] = {}
        reader = asyncio.ensure_future(self._read(ws, subs, set(), outbox))
        try:
            await ws.send(frames.bitmex_welcome())
            while True:
                if self.vanish:
                    reader.cancel()
                    await self.hang(ws, closed)
                    return
                while not outbox.empty():
                    await ws.send(outbox.get_nowait())
                if not self.silent:
                    for key in list(subs):
                        text = self._next(key, subs)
                        if text is not None:
                            await ws.send(text)
                            conn.sent += 1
                if not await self.tick(closed):
                    return
        finally:
            reader.cancel()
            self._outbox.remove(outbox)

    def _next(self, key: tuple[str, str], subs: dict[tuple[str, str], int]) -> str | None:
        table, symbol = key
        i = subs[key]
        subs[key] = i + 1
        if table == "instrument":
            return frames.bitmex_instrument_update(symbol)
        rest = frames.capture_frames(table, symbol)[1:]
        if table == "quote":
            return rest[i % len(rest)] if rest else None
        while i < len(rest) and i in self.book_skip:  # lost on the way
            i += 1
            subs[key] = i + 1
        return rest[i] if i < len(rest) else None

    async def _read(
        self,
        ws: ServerConnection,
        subs: dict[tuple[str, str], int],
        history: set[tuple[str, str]],
        outbox: asyncio.Queue[str],
    ) -> None:
        async for msg in ws:
            if msg == "ping":
                self.pings += 1
                if self.answer_pings and not self.vanish:
                    outbox.put_nowait("pong")
                continue
            op = json.loads(msg)
            self.ops.append(op)
            for arg in op.get("args", []):
                table, _, symbol = str(arg).partition(":")
                if op["op"] == "unsubscribe":
                    subs.pop((table, symbol), None)
                    outbox.put_nowait(json.dumps({"success": True, "unsubscribe": arg}))
                    continue
                if self.early_update and table == "instrument":
                    early = frames.bitmex_instrument_update(symbol)
                    if early is not None:
                        outbox.put_nowait(early)
                ack = {"success": True, "subscribe": arg, "request": op}
                outbox.put_nowait(json.dumps(ack, separators=(",", ":")))
                partial = None if self.silent else self._partial(table, symbol)
                if partial is not None:
                    outbox.put_nowait(partial)
                    # the capture's book updates follow only its first partial on a connection
                    again = table == "orderBookL2" and (table, symbol) in history
                    subs[(table, symbol)] = 10**9 if again else 0
                    history.add((table, symbol))
