"""BitMEX private tables ("WebSocket API"): ``authKeyExpires`` with ``[key, expires,
hex(HMAC-SHA256(secret, "GET/realtime" + expires))]``, then ``subscribe`` to ``execution``,
``order``, ``position``; tables come as ``partial`` then ``insert``/``update``/``delete``, an
``update`` carrying only changed fields, keyed by ``orderID``; a quiet socket gets the text
``ping`` and must answer ``pong``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection

from core.venues.bitmex.execution import parse_execution_row, parse_order_row
from core.venues.private_stream import PrivateStream

if TYPE_CHECKING:
    from core.venues.bitmex.execution import BitmexVenue

log = logging.getLogger("arbtui.execution")


class BitmexUserStream(PrivateStream):
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
