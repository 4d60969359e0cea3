"""Binance USD-M "User Data Streams": ``POST /fapi/v1/listenKey`` creates the key (valid 60
min), ``PUT`` keeps it alive (every ``listen_key_keepalive_s``), the socket is
``<ws base>/<listenKey>``; ``ORDER_TRADE_UPDATE`` carries order status and executions,
``listenKeyExpired`` asks for a new key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import orjson
from websockets.asyncio.client import ClientConnection

from core.venues.binance.execution import parse_user_event
from core.venues.ccxt_base import VenueHttpError
from core.venues.private_stream import PrivateStream

if TYPE_CHECKING:
    from core.venues.binance.execution import BinanceVenue

log = logging.getLogger("arbtui.execution")


class BinanceUserStream(PrivateStream):
    """Binance USD-M user data stream with listenKey keep-alive."""

    venue: BinanceVenue

    def __init__(self, venue: BinanceVenue, keepalive_s: float | None = None) -> None:
        super().__init__(venue)
        self.keepalive_s = keepalive_s or venue.settings.listen_key_keepalive_s
        self.listen_key = ""
        self.keepalives = 0
        self._ka_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._ka_task = asyncio.get_running_loop().create_task(self._keepalive())
        await super().start()

    async def close(self) -> None:
        if self._ka_task is not None:
            self._ka_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ka_task
        await super().close()

    async def _new_key(self) -> str:
        resp = await self.venue.call(self.venue.client.fapiPrivatePostListenKey)
        self.listen_key = str(resp["listenKey"])
        return self.listen_key

    async def _url(self) -> str:
        key = self.listen_key or await self._new_key()
        return f"{self.venue.ws_base.rstrip('/')}/{key}"

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_s)
            if not self.listen_key:
                continue
            try:
                await self.venue.call(self.venue.client.fapiPrivatePutListenKey)
                self.keepalives += 1
            except VenueHttpError as exc:
                log.warning("binance listenKey keep-alive refused: %s", exc.msg)
                await self._new_key()
                self.reconnect()
            except Exception as exc:
                log.warning("binance listenKey keep-alive failed: %s", self.venue.redact(str(exc)))

    async def _session(self, ws: ClientConnection) -> None:
        await self._connected()
        async for text in ws:
            self.messages += 1
            ev = orjson.loads(text)
            if ev.get("e") == "listenKeyExpired":
                await self._new_key()
                return
            rep = parse_user_event(ev, text if isinstance(text, str) else text.decode())
            if rep is not None and rep.cid:
                self.venue.book.apply(rep)
