"""Bybit v5 private stream (docs ``websocket/wss-authentication.mdx`` "Connect",
``websocket/private/{order,execution,position,wallet}.mdx``).

One socket on ``.../v5/private``: the auth frame ``{"op":"auth","args":[key, expires_ms,
hex(HMAC-SHA256(secret, "GET/realtime" + expires_ms))]}`` (expires = now + 10 s, as ccxt pro
does), answered ``{"success":true,"op":"auth",...}``; then ``{"op":"subscribe","args":
["order","execution","position","wallet"]}``, answered ``{"success":true,"op":"subscribe"}``.
Heartbeat: ``{"req_id":..,"op":"ping"}`` every ``ping_s`` (Bybit recommends 20 s), answered
``{"op":"pong","args":["<ms>"]}``; a socket silent for two periods (not even a pong) is
dropped and reopened.

Rows: ``order`` -> order status (by ``orderLinkId``); ``execution`` with ``execType`` Trade ->
one execution of our order; ``execType`` Funding -> a
:class:`~core.execution.state.FundingReport` (never a fill; ``execFee`` > 0 = paid); other
execution types (ADL, bust, delivery, ...) are counted and left alone; ``position`` -> the
signed size per symbol; ``wallet`` -> ``walletBalance`` per coin.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection

from core.venues.bybit.execution import (
    NAME,
    parse_funding_execution,
    parse_order,
    parse_trade_execution,
)
from core.venues.private_stream import PrivateStream

if TYPE_CHECKING:
    from core.venues.bybit.execution import BybitVenue

log = logging.getLogger("arbtui.execution")
TOPICS = ("order", "execution", "position", "wallet")
AUTH_EXPIRES_MS = 10_000


def auth_frame(key: str, secret: str, now_ms: int) -> str:
    """The ``auth`` op for ``key``/``secret`` at ``now_ms`` (expires 10 s later)."""
    expires = now_ms + AUTH_EXPIRES_MS
    sig = hmac.new(secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256)
    return json.dumps({"req_id": "auth", "op": "auth", "args": [key, expires, sig.hexdigest()]})


class BybitUserStream(PrivateStream):
    """The authenticated ``order``, ``execution``, ``position`` and ``wallet`` topics."""

    venue: BybitVenue

    def __init__(self, venue: BybitVenue, ping_s: float | None = None) -> None:
        super().__init__(venue)
        self.ping_s = ping_s or venue.settings.ping_s
        self.positions: dict[str, Decimal] = {}
        """Signed size per symbol from the ``position`` topic (BTC linear, contracts inverse)."""
        self.wallet: dict[str, Decimal] = {}
        """``walletBalance`` per coin from the ``wallet`` topic."""
        self.skipped_executions = 0
        """Execution rows that were neither our trades nor funding (ADL, bust, others')."""
        self.pings = 0
        self._req = itertools.count(1)

    async def _url(self) -> str:
        return self.venue.ws_url

    def _settle(self, symbol: str) -> str:
        for (_, s), spec in self.venue.specs.items():
            if s == symbol:
                return spec.settle_currency
        return ""

    async def _recv(self, ws: ClientConnection, timeout_s: float) -> Any:
        async with asyncio.timeout(timeout_s):
            text = await ws.recv()
        self.messages += 1
        raw = text if isinstance(text, str) else text.decode()
        return raw, json.loads(raw, parse_float=Decimal)

    async def _session(self, ws: ClientConnection) -> None:
        key, secret = self.venue._secrets
        await ws.send(auth_frame(key, secret, int(time.time() * 1000)))
        _, msg = await self._recv(ws, self.ping_s)
        if msg.get("op") != "auth" or not msg.get("success"):
            why = msg.get("ret_msg") or msg.get("retMsg") or msg
            raise ValueError(self.venue.redact(f"bybit private stream auth refused: {why}"))
        await ws.send(json.dumps({"req_id": "sub", "op": "subscribe", "args": list(TOPICS)}))
        last_ping = time.monotonic()
        while not self._closing:
            wait = max(last_ping + self.ping_s - time.monotonic(), 0.01)
            try:
                raw, msg = await self._recv(ws, wait)
            except TimeoutError:
                await ws.send(json.dumps({"req_id": str(next(self._req)), "op": "ping"}))
                self.pings += 1
                last_ping = time.monotonic()
                raw, msg = await self._recv(ws, self.ping_s * 2)
            await self._on_message(raw, msg)

    async def _on_message(self, raw: str, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        if op == "subscribe":
            if not msg.get("success"):
                raise ValueError(f"bybit private subscribe refused: {msg.get('ret_msg')}")
            await self._connected()
            return
        if op in ("pong", "ping"):
            return
        topic = str(msg.get("topic", ""))
        rows = msg.get("data") or []
        if topic.startswith("order"):
            for row in rows:
                if row.get("orderLinkId"):
                    self.venue.book.apply(parse_order(row, source="stream"))
        elif topic.startswith("execution"):
            for row in rows:
                self._on_execution(row, raw)
        elif topic.startswith("position"):
            for row in rows:
                size = Decimal(str(row.get("size") or 0))
                side = row.get("side")
                symbol = str(row.get("symbol"))
                qty = size if side == "Buy" else -size if side == "Sell" else Decimal(0)
                self.positions[symbol] = qty
                self.venue.book.apply_position(NAME, symbol, qty)
        elif topic.startswith("wallet"):
            for acct in rows:
                for c in acct.get("coin") or []:
                    self.wallet[str(c.get("coin"))] = Decimal(str(c.get("walletBalance") or 0))

    def _on_execution(self, row: dict[str, Any], raw: str) -> None:
        symbol = str(row.get("symbol", ""))
        settle = self._settle(symbol)
        kind = row.get("execType")
        if kind == "Funding":
            self.venue.book.apply_funding(parse_funding_execution(row, settle, raw))
            return
        rep = parse_trade_execution(row, settle, raw)
        if rep is None:
            self.skipped_executions += 1
            return
        self.venue.book.apply(rep)


__all__ = ["NAME", "BybitUserStream", "auth_frame"]
