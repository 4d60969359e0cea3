"""Private order streams: Binance user data stream and BitMEX ``execution``/``order``/
``position`` tables. Their reports go into the venue's :class:`~core.execution.state.OrderBook`.

Binance (USD-M "User Data Streams"): ``POST /fapi/v1/listenKey`` creates the key (valid 60
min), ``PUT`` keeps it alive (every ``listen_key_keepalive_s``), the socket is
``<ws base>/<listenKey>``; ``ORDER_TRADE_UPDATE`` carries order status and executions,
``listenKeyExpired`` asks for a new key. BitMEX ("WebSocket API"): ``authKeyExpires``
with ``[key, expires, hex(HMAC-SHA256(secret, "GET/realtime" + expires))]``, then
``subscribe`` to ``execution``, ``order``, ``position``; tables come as ``partial`` then
``insert``/``update``/``delete``, an ``update`` carrying only changed fields, keyed by
``orderID``; a quiet socket gets the text ``ping`` and must answer ``pong``.

After every reconnect the venue's open orders are looked up by REST, so nothing that
happened while the socket was down is lost. The keys are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from core.execution.binance import parse_user_event
from core.execution.bitmex import parse_execution_row, parse_order_row
from core.execution.ccxt_base import VenueHttpError

if TYPE_CHECKING:
    from core.execution.binance import BinanceVenue
    from core.execution.bitmex import BitmexVenue
    from core.execution.ccxt_base import LiveVenue

log = logging.getLogger("arbtui.execution")
CONNECT_WAIT_S = 5.0
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)


class _Stream:
    """Reconnecting socket loop; subclasses give ``_url``, ``_session`` and ``_on_text``."""

    def __init__(self, venue: LiveVenue) -> None:
        self.venue = venue
        self.connected = asyncio.Event()
        self.connects = 0
        self.messages = 0
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._closing = False

    async def start(self) -> None:
        """Start the loop; wait up to :data:`CONNECT_WAIT_S` for the first connection."""
        self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            await asyncio.wait_for(self.connected.wait(), CONNECT_WAIT_S)
        except TimeoutError:
            self.venue.warnings.append(f"{self.venue.venue}: user stream not connected yet")

    async def close(self) -> None:
        """Stop the loop: close the socket, cancel the task, wait at most 2 s for it."""
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=2.0)

    def reconnect(self) -> None:
        """Drop the socket; the loop opens a new one."""
        if self._ws is not None:
            asyncio.get_running_loop().create_task(self._ws.close())

    async def _url(self) -> str:
        raise NotImplementedError

    async def _session(self, ws: ClientConnection) -> None:
        raise NotImplementedError

    async def _run(self) -> None:
        failures = 0
        while not self._closing:
            try:
                url = await self._url()
                async with connect(url, open_timeout=10, max_size=2**22) as ws:
                    self._ws = ws
                    failures = 0
                    await self._session(ws)
            except asyncio.CancelledError:
                raise
            except (OSError, ConnectionClosed, TimeoutError, VenueHttpError, ValueError) as exc:
                if not self._closing:
                    log.warning("%s user stream: %s", self.venue.venue, self.venue.redact(str(exc)))
            except Exception as exc:  # keep the stream alive
                log.warning(
                    "%s user stream error: %s", self.venue.venue, self.venue.redact(repr(exc))
                )
            self._ws = None
            self.connected.clear()
            if self._closing:
                return
            await asyncio.sleep(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
            failures += 1

    async def _connected(self) -> None:
        self.connects += 1
        self.connected.set()
        if self.connects > 1:
            await self.reconcile()

    async def reconcile(self) -> None:
        """Look up every open order of this venue (after a gap in the stream)."""
        book = self.venue.book
        for st in list(book.orders.values()):
            if st.venue == self.venue.venue and st.seen and not st.status.final:
                rep = await self.venue.lookup(st.symbol, st.cid)
                if rep.found:
                    book.apply(rep)


class BinanceUserStream(_Stream):
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
        resp = await self.venue.client.fapiPrivatePostListenKey()
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
                await self.venue.client.fapiPrivatePutListenKey()
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


class BitmexUserStream(_Stream):
    """BitMEX authenticated ``execution``, ``order`` and ``position`` tables."""

    venue: BitmexVenue

    def __init__(self, venue: BitmexVenue, quiet_s: float = 5.0) -> None:
        super().__init__(venue)
        self.quiet_s = quiet_s
        self.orders: dict[str, dict[str, Any]] = {}
        self.positions: dict[str, Decimal] = {}
        self.skipped_executions = 0
        """Execution rows that were not about our orders (funding, settlement, others')."""

    async def _url(self) -> str:
        return self.venue.ws_url

    def _auth(self) -> str:
        key, secret = self.venue._secrets
        expires = int(time.time()) + 60
        sig = hmac.new(secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256)
        return json.dumps({"op": "authKeyExpires", "args": [key, expires, sig.hexdigest()]})

    async def _session(self, ws: ClientConnection) -> None:
        await ws.send(self._auth())
        await ws.send(json.dumps({"op": "subscribe", "args": ["execution", "order", "position"]}))
        subscribed: set[str] = set()
        while not self._closing:
            try:
                async with asyncio.timeout(self.quiet_s):
                    text = await ws.recv()
            except TimeoutError:
                await ws.send("ping")
                async with asyncio.timeout(self.quiet_s):
                    text = await ws.recv()
            self.messages += 1
            if text == "pong":
                continue
            msg = json.loads(text, parse_float=Decimal)
            if "error" in msg:
                raise ValueError(f"bitmex stream refused: {msg.get('error')}")
            if msg.get("subscribe"):
                subscribed.add(str(msg["subscribe"]))
                if subscribed >= {"execution", "order", "position"}:
                    await self._connected()
                continue
            table = msg.get("table")
            if table:
                self._on_table(str(table), str(msg.get("action")), msg.get("data") or [])

    def _on_table(self, table: str, action: str, rows: list[dict[str, Any]]) -> None:
        book = self.venue.book
        if table == "execution" and action in ("partial", "insert"):
            for row in rows:
                rep = parse_execution_row(row)
                if rep is None:
                    self.skipped_executions += 1
                else:
                    book.apply(rep)
        elif table == "order":
            for row in rows:
                oid = str(row.get("orderID", ""))
                if action == "delete":
                    self.orders.pop(oid, None)
                    continue
                merged = self.orders.setdefault(oid, {}) if action == "update" else {}
                merged.update(row)
                self.orders[oid] = merged
                if merged.get("clOrdID"):
                    book.apply(parse_order_row(merged, source="stream"))
        elif table == "position":
            for row in rows:
                if "currentQty" in row:
                    self.positions[str(row.get("symbol"))] = Decimal(str(row["currentQty"]))
