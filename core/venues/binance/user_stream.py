"""Binance USD-M "User Data Streams": ``POST /fapi/v1/listenKey`` creates the key (valid 60
min), ``PUT`` keeps it alive (every ``listen_key_keepalive_s``), the socket is
``<ws base>/<listenKey>``; ``ORDER_TRADE_UPDATE`` carries order status and executions,
``listenKeyExpired`` asks for a new key.

Renewal never gives up (HAZARDS: one refused keep-alive, then one 503 on the request for a new
key, once ended the keep-alive task and left the stream on a dead key for the session): a
keep-alive that fails without an answer is tried again after :data:`RETRY_S`; one the venue
refuses (-1125, the key is gone) asks for a new key until that works, with the same backoff,
and the socket then moves to the new key. While it fails, :attr:`BinanceUserStream.key_error`
says why and the stream's health view shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING

import orjson
from websockets.asyncio.client import ClientConnection

from core.venues.binance.execution import parse_user_event
from core.venues.ccxt_base import VenueHttpError
from core.venues.private_stream import PrivateStream

if TYPE_CHECKING:
    from core.venues.binance.execution import BinanceVenue

log = logging.getLogger("arbtui.execution")
RETRY_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
"""Waits between renewal attempts (seconds; the last repeats)."""


class BinanceUserStream(PrivateStream):
    """Binance USD-M user data stream with listenKey keep-alive."""

    venue: BinanceVenue

    def __init__(self, venue: BinanceVenue, keepalive_s: float | None = None) -> None:
        super().__init__(venue)
        self.keepalive_s = keepalive_s or venue.settings.listen_key_keepalive_s
        self.listen_key = ""
        self.keepalives = 0
        self.renewals = 0
        self.key_error = ""
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
            if self.listen_key:
                await self._keep_or_renew()

    async def _keep_or_renew(self) -> None:
        """One keep-alive, retried until the venue answers; a refusal renews the key."""
        put = self.venue.client.fapiPrivatePutListenKey
        if await self._retry("listenKey keep-alive", lambda: self.venue.call(put), VenueHttpError):
            self.keepalives += 1
        else:
            await self.renew()

    async def renew(self) -> None:
        """Ask for a new listenKey until the venue gives one (backoff :data:`RETRY_S`), then
        move the socket to it."""
        self.listen_key = ""
        await self._retry("new listenKey", self._new_key)  # a 503, a refusal, no answer
        self.renewals += 1
        self.reconnect()

    async def _retry(
        self,
        what: str,
        call: Callable[[], Awaitable[object]],
        refused: type[Exception] | None = None,
    ) -> bool:
        """Await ``call()`` until it succeeds (True; backoff :data:`RETRY_S`), or until it
        raises ``refused`` (False); :attr:`key_error` says why meanwhile."""
        attempt = 0
        while True:
            try:
                await call()
            except Exception as exc:
                if refused is not None and isinstance(exc, refused):
                    self._failed(f"{what} refused", exc)
                    return False
                attempt += 1
                self._failed(f"{what} failed (attempt {attempt})", exc)
                await asyncio.sleep(RETRY_S[min(attempt - 1, len(RETRY_S) - 1)])
                continue
            self.key_error = ""
            return True

    def _failed(self, what: str, exc: Exception) -> None:
        self.key_error = self.venue.redact(f"{what}: {exc}")
        log.warning("binance %s", self.key_error)

    def note(self) -> str:
        return self.key_error

    async def _session(self, ws: ClientConnection) -> None:
        await self._connected()
        async for text in ws:
            self.messages += 1
            ev = orjson.loads(text)
            if ev.get("e") == "ACCOUNT_UPDATE":  # "a"."P": positions that changed
                for p in (ev.get("a") or {}).get("P") or []:
                    if p.get("ps", "BOTH") == "BOTH":
                        qty = Decimal(str(p.get("pa") or 0))
                        self.venue.book.apply_position("binance", str(p.get("s")), qty)
                continue
            if ev.get("e") == "listenKeyExpired":
                self.listen_key = ""  # the next connection asks for a new key (with backoff)
                return
            rep = parse_user_event(ev, text if isinstance(text, str) else text.decode())
            if rep is not None and rep.cid:
                self.venue.book.apply(rep)
