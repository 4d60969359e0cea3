"""What both ccxt venues share: credentials, the ccxt hooks, errors, and the order flow.

ccxt (pinned 4.5.83) carries the transport and request signing (its client-side weight
throttle is off: it spaced an order 200 ms behind the previous call; the venues' own
signals drive :class:`~core.execution.limits.VenueLimiter` instead);
orders go through its implicit endpoint methods (``fapiPrivatePostOrder``,
``privatePostOrder``) so that quantities are the exact Decimal strings of
:func:`core.domain.contracts.wire` and the client id is ours. Three hooks are added to the ccxt
class (:class:`CcxtHooks`): every request waits in the venue's shared
:class:`~core.execution.limits.VenueLimiter`; every answer feeds it and is classified into
:class:`VenueHttpError` (HTTP status, the venue's code and message); JSON numbers are
decoded as Decimal.

Secrets: keys come only from environment variables (:data:`KEY_ENV`); ccxt logs request
headers at DEBUG, so its logger is a private one that never emits DEBUG, and every text this
package produces goes through :meth:`LiveVenue.redact`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async

from core.domain.errors import ArbtuiError
from core.domain.events import InstrumentSpec
from core.domain.orders import CLIENT_ID_RE, OrderIntent
from core.domain.venue import OrderStatus, OrderUpdate, PositionUnknown
from core.execution.limits import RateLimited, VenueLimiter
from core.execution.state import OrderBook, Report

#: Environment variables holding each venue's API key and secret.
KEY_ENV: dict[str, tuple[str, str]] = {
    "binance": ("ARBTUI_BINANCE_KEY", "ARBTUI_BINANCE_SECRET"),
    "bitmex": ("ARBTUI_BITMEX_KEY", "ARBTUI_BITMEX_SECRET"),
}

log = logging.getLogger("arbtui.execution")


def _quiet_logger() -> logging.Logger:
    """A logger outside the logging tree that drops DEBUG (ccxt logs headers there)."""
    lg = logging.Logger("arbtui.ccxt", level=logging.WARNING)
    lg.addHandler(logging.NullHandler())
    lg.propagate = False
    return lg


class VenueStartError(ArbtuiError):
    """The venue may not be traded: missing keys, hedge mode, instrument mismatch."""


class VenueError(ArbtuiError):
    """A venue call that has no order status to report failed (cancel-all, balance)."""


class VenueHttpError(ccxt_async.ExchangeError):  # type: ignore[misc]
    """An answer the venue gave with an error: ``status`` (HTTP), ``code`` (the venue's
    error code as text, "" if none) and ``msg`` (the venue's own message)."""

    def __init__(self, venue: str, status: int, code: str, msg: str) -> None:
        super().__init__(f"{venue} HTTP {status} {code} {msg}".replace("  ", " "))
        self.venue = venue
        self.status = status
        self.code = code
        self.msg = msg


def credentials(venue: str) -> tuple[str, str]:
    """The venue's key and secret from the environment; :class:`VenueStartError` naming
    the variable (never its value) when one is missing."""
    key_var, secret_var = KEY_ENV[venue]
    key, secret = os.environ.get(key_var, ""), os.environ.get(secret_var, "")
    missing = [n for n, v in ((key_var, key), (secret_var, secret)) if not v]
    if missing:
        raise VenueStartError(f"{venue}: set {' and '.join(missing)} in the environment")
    return key, secret


class CcxtHooks:
    """Mixed into a ccxt exchange class (before it in the bases)."""

    arb_venue: str = ""
    arb_limiter: VenueLimiter | None = None

    async def fetch2(self, *args: Any, **kwargs: Any) -> Any:
        if self.arb_limiter is not None:
            await self.arb_limiter.acquire()
        return await super().fetch2(*args, **kwargs)  # type: ignore[misc]

    def parse_json(self, http_response: str) -> Any:
        try:
            return json.loads(http_response, parse_float=Decimal)
        except (TypeError, ValueError):
            return None

    def handle_errors(
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        headers: Mapping[str, str],
        body: str,
        response: Any,
        request_headers: Any,
        request_body: Any,
    ) -> None:
        if self.arb_limiter is not None:
            self.arb_limiter.observe(code, headers or {}, body or "")
        venue_code, msg = _error_fields(response)
        if code >= 400:
            raise VenueHttpError(self.arb_venue, code, venue_code, msg or reason or "")
        if venue_code and venue_code.lstrip("-").isdigit() and int(venue_code) < 0:
            raise VenueHttpError(self.arb_venue, code, venue_code, msg)


def _error_fields(response: Any) -> tuple[str, str]:
    """(code, message) of a Binance ``{"code","msg"}`` or BitMEX ``{"error":{"message"}}``."""
    if not isinstance(response, dict):
        return "", ""
    err = response.get("error")
    if isinstance(err, dict):
        return str(err.get("name", "")), str(err.get("message", ""))
    if "code" in response and "msg" in response:
        return str(response["code"]), str(response["msg"])
    return "", ""


def now_ms() -> int:
    """Wall-clock UTC ms (execution bookkeeping only, never strategy decisions)."""
    return int(time.time() * 1000)


class LiveVenue:
    """The venue-independent part of a ccxt venue (:class:`core.domain.venue.ExecutionVenue`).

    Subclasses give ``_send`` (one order request), ``lookup``, ``_cancel``, ``cancel_all``,
    ``position``, ``balance``, ``_classify`` and ``start``. ``book`` is the process's
    :class:`OrderBook`; user-stream reports are applied to it.
    """

    venue: str = ""

    def __init__(
        self,
        specs: dict[tuple[str, str], InstrumentSpec],
        book: OrderBook,
        limiter: VenueLimiter,
        *,
        retry_503_s: float = 0.5,
        max_503_retries: int = 4,
        max_rate_retries: int = 3,
    ) -> None:
        self.specs = {k: v for k, v in specs.items() if k[0] == self.venue}
        self.book = book
        self.limiter = limiter
        self.retry_503_s = retry_503_s
        self.max_503_retries = max_503_retries
        self.max_rate_retries = max_rate_retries
        self.client: Any = None
        self._secrets: tuple[str, ...] = ()
        self.sent = 0
        self.warnings: list[str] = []

    # ------------------------------------------------------------ to implement
    async def _send(self, intent: OrderIntent, spec: InstrumentSpec) -> Report:
        raise NotImplementedError

    async def lookup(self, symbol: str, cid: str) -> Report:
        """The order's state at the venue by client id; ``found=False`` when the venue does
        not know it; status UNKNOWN when the lookup itself failed."""
        raise NotImplementedError

    async def _cancel(self, symbol: str, cid: str) -> Report:
        raise NotImplementedError

    def _classify(self, exc: Exception) -> tuple[str, str]:
        """(kind, reason): kind in rejected, duplicate, unknown, rate, overload."""
        raise NotImplementedError

    # ------------------------------------------------------------ helpers
    def redact(self, text: str) -> str:
        """``text`` with the venue's key and secret replaced by ``***``."""
        for s in self._secrets:
            if s:
                text = text.replace(s, "***")
        return text

    def report(
        self,
        cid: str,
        symbol: str,
        status: OrderStatus,
        reason: str = "",
        *,
        found: bool = True,
        source: str = "local",
    ) -> Report:
        """A report made here (not by the venue)."""
        return Report(
            cid=cid,
            venue=self.venue,
            symbol=symbol,
            status=status,
            ts_ms=now_ms(),
            reason=self.redact(reason),
            found=found,
            source=source,
        )

    def refuse(self, intent: OrderIntent) -> tuple[InstrumentSpec | None, str]:
        """Local checks before anything is sent (HAZARDS H7, H10): instrument known, id of
        <= 36 ``[A-Za-z0-9_-]``, quantity > 0 and a whole number of lots."""
        spec = self.specs.get((intent.venue, intent.symbol))
        if spec is None:
            return None, f"{self.venue}: no instrument {intent.symbol} configured"
        if not CLIENT_ID_RE.match(intent.client_order_id):
            return spec, (
                f"client order id {intent.client_order_id!r} is not 1-36 characters "
                "of [A-Za-z0-9_-]"
            )
        if intent.qty <= 0:
            return spec, f"{self.venue} {intent.symbol}: quantity {intent.qty} is not > 0"
        if intent.qty % spec.lot != 0:
            return spec, (
                f"{self.venue} {intent.symbol}: quantity {intent.qty} is not a whole "
                f"number of lots ({spec.lot})"
            )
        return spec, ""

    # ------------------------------------------------------------ order flow
    async def place_report(self, intent: OrderIntent) -> Report:
        """Send one logical order (market; reduce-only as given) and say what came of it.

        Never raises for the venue's answer: REJECTED (venue text, or refused locally and
        not sent), UNKNOWN (timeout, 5xx: look it up before any resend), or the venue's
        status. A duplicate-id refusal is looked up ("already placed"). A rate-limit answer
        (429/418, nothing executed) is retried once the shared limiter allows, a BitMEX 503
        after ``retry_503_s`` with the same id; any sign of the id in the meantime (user
        stream) stops the retry (HAZARDS H9).
        """
        cid, symbol = intent.client_order_id, intent.symbol
        spec, why = self.refuse(intent)
        if why or spec is None:
            return self.report(cid, symbol, OrderStatus.REJECTED, why)
        tries_503 = tries_rate = 0
        while True:
            if (tries_503 or tries_rate) and self.book.seen(cid):
                return self.known(cid, symbol)
            try:
                self.sent += 1
                return await self._send(intent, spec)
            except RateLimited as exc:
                return self.report(cid, symbol, OrderStatus.REJECTED, str(exc))
            except Exception as exc:  # every failure is classified below
                kind, reason = self._classify(exc)
            if kind == "duplicate":
                found = await self.lookup(symbol, cid)
                if found.found:
                    return found
                return self.report(cid, symbol, OrderStatus.REJECTED, reason)
            if kind == "rate" and tries_rate < self.max_rate_retries:
                tries_rate += 1
                continue
            if kind == "overload" and tries_503 < self.max_503_retries:
                tries_503 += 1
                await asyncio.sleep(self.retry_503_s)
                continue
            status = OrderStatus.REJECTED if kind in ("rejected", "rate") else OrderStatus.UNKNOWN
            return self.report(cid, symbol, status, reason, source="rest")

    def known(self, cid: str, symbol: str) -> Report:
        """The book's current knowledge of ``cid`` as a report."""
        st = self.book.get(cid)
        if st is None:
            return self.report(cid, symbol, OrderStatus.UNKNOWN, "not tracked")
        return Report(
            cid=cid,
            venue=self.venue,
            symbol=symbol,
            status=st.status,
            filled_qty=st.filled_qty,
            ts_ms=now_ms(),
            reason=st.reason,
            source="book",
        )

    # ------------------------------------------------------------ ExecutionVenue
    async def place(self, intent: OrderIntent) -> OrderUpdate:
        """:meth:`place_report`, applied to the book; the order's state afterwards."""
        self.book.track(intent)
        rep = await self.place_report(intent)
        self.book.apply(rep)
        return self.book.snapshot(intent.client_order_id, rep.ts_ms)

    async def query(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """Look the order up by client id. Not known to the venue: REJECTED, reason
        "not found" (it was never placed); the lookup failed: UNKNOWN."""
        rep = await self.lookup(symbol, client_order_id)
        if not rep.found:
            return OrderUpdate(
                client_order_id,
                self.venue,
                symbol,
                OrderStatus.REJECTED,
                Decimal(0),
                rep.ts_ms,
                None,
                f"not found at {self.venue}",
            )
        upd = self.book.apply(rep)
        if upd is not None:
            return upd
        return self._known_or_reported(symbol, client_order_id, rep)

    def _known_or_reported(self, symbol: str, client_order_id: str, rep: Report) -> OrderUpdate:
        """The book's view of an order it tracks, else the venue's report as an update."""
        if client_order_id in self.book.orders:
            return self.book.snapshot(client_order_id, rep.ts_ms)
        return OrderUpdate(
            client_order_id,
            self.venue,
            symbol,
            rep.status,
            rep.filled_qty,
            rep.ts_ms,
            None,
            rep.reason,
            rep.raw,
        )

    async def cancel(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """Cancel one order; an order the venue no longer has open is looked up."""
        rep = await self._cancel(symbol, client_order_id)
        self.book.apply(rep)
        return self._known_or_reported(symbol, client_order_id, rep)

    async def cancel_all(self, symbol: str) -> None:
        raise NotImplementedError

    async def position(self, symbol: str) -> Decimal:
        raise NotImplementedError

    async def balance(self, currency: str) -> Decimal:
        raise NotImplementedError

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Close the ccxt session."""
        if self.client is not None:
            await self.client.close()

    def position_unknown(self, symbol: str, exc: Exception) -> PositionUnknown:
        """The exception :meth:`position` raises, with a redacted reason."""
        return PositionUnknown(self.redact(f"{self.venue} {symbol}: position unknown: {exc}"))
