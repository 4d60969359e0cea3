"""What every ccxt venue shares: credentials, one guarded call into ccxt, errors, the order flow.

ccxt (4.5.90) carries the transport and request signing; nothing of ccxt is overridden or
mixed into its classes. Every REST call goes through :meth:`LiveVenue.call`, which

- awaits the venue's shared :class:`~core.execution.limits.VenueLimiter` first (ccxt's own
  throttle is off: the venues' signals drive the limiter instead);
- after the answer, feeds the limiter with ccxt's documented ``last_response_headers`` and
  ``last_http_response`` (the raw text);
- on a success, returns the answer decoded from ``last_http_response`` with JSON numbers as
  Decimal when that text is the answer ccxt returned (checked; a concurrent call may have
  replaced it), else ccxt's own value;
- on a refusal the venue sent, raises :class:`VenueHttpError` with ccxt's exception class
  (``error``), the HTTP status where ccxt names it, and the venue's code and message taken
  from the body that ccxt puts in the exception text. Errors without an answer (timeouts,
  refused connections) pass through as ccxt's own :class:`ccxt.NetworkError` subclasses.

Secrets: keys come only from environment variables (:data:`KEY_ENV`); ccxt logs request
headers at DEBUG, so its logger is a private one that never emits DEBUG, and every text this
package produces goes through :meth:`LiveVenue.redact`.

(~430 lines: the guarded call, the error reading and the order flow it serves are one piece
every venue must get right the same way; each venue's module holds only its wire.)
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ccxt.async_support as ccxt_async

from core.domain.errors import ArbtuiError
from core.domain.events import InstrumentSpec
from core.domain.orders import CLIENT_ID_RE, OrderIntent
from core.domain.venue import OrderStatus, OrderUpdate, PositionUnknown
from core.execution.limits import RateLimited, VenueLimiter
from core.execution.state import FundingReport, OrderBook, Report

if TYPE_CHECKING:
    from core.venues.private_stream import PrivateStream

#: Environment variables holding each venue's API key and secret.
KEY_ENV: dict[str, tuple[str, str]] = {
    "binance": ("ARBTUI_BINANCE_KEY", "ARBTUI_BINANCE_SECRET"),
    "bybit": ("ARBTUI_BYBIT_KEY", "ARBTUI_BYBIT_SECRET"),
}

log = logging.getLogger("arbtui.execution")
_STATUS_RE = re.compile(r"(?<![\d.:])([45]\d\d)(?![\d.])")


def _quiet_logger() -> logging.Logger:
    """A logger outside the logging tree that drops DEBUG (ccxt logs headers there)."""
    lg = logging.Logger("arbtui.ccxt", level=logging.WARNING)
    lg.addHandler(logging.NullHandler())
    lg.propagate = False
    return lg


def ccxt_options(timeout_ms: int, **options: Any) -> dict[str, Any]:
    """Constructor arguments shared by every venue's ccxt client: our timeout, ccxt's
    throttle off, no ccxt retries (a retried order is ours to decide), the quiet logger,
    ccxt's ``last_*`` records on."""
    return {
        "timeout": timeout_ms,
        "enableRateLimit": False,
        "enableLastHttpResponse": True,
        "enableLastResponseHeaders": True,
        "enableLastJsonResponse": True,
        "logger": _quiet_logger(),
        "options": {"maxRetriesOnFailure": 0, **options},
    }


class VenueStartError(ArbtuiError):
    """The venue may not be traded: missing keys, hedge mode, instrument mismatch."""


class VenueError(ArbtuiError):
    """A venue call that has no order status to report failed (cancel-all, balance)."""


class NotSent(ArbtuiError):
    """Raised by a venue's ``_send`` before anything went out (a step the order needs
    failed): the order is REJECTED with this text, never retried nor looked up."""


class VenueHttpError(Exception):
    """A refusal the venue sent: ``error`` (ccxt's exception class for it), ``status`` (HTTP
    status when ccxt's text names one, else 200 for a body with a venue code, else 0),
    ``code`` (the venue's error code as text, "" if none) and ``msg`` (its own message)."""

    def __init__(
        self, venue: str, error: type[Exception], status: int, code: str, msg: str
    ) -> None:
        where = f"HTTP {status}" if status else error.__name__
        super().__init__(f"{venue} {where} {code} {msg}".replace("  ", " ").strip())
        self.venue = venue
        self.error = error
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


def decode(text: str | None) -> Any:
    """JSON ``text`` with numbers as Decimal; None when it is not JSON."""
    if not text:
        return None
    try:
        return json.loads(text, parse_float=Decimal)
    except (TypeError, ValueError):
        return None


def body_of(exc: BaseException) -> Any:
    """The venue's JSON body that ccxt puts in an exception's text (``"<id> <body>"``), or
    None."""
    text = str(exc)
    at = text.find("{")
    return decode(text[at:]) if at >= 0 else None


def error_fields(body: Any) -> tuple[str, str]:
    """(code, message) of a Binance ``{"code","msg"}`` or Bybit ``{"retCode","retMsg"}``."""
    if not isinstance(body, dict):
        return "", ""
    for code_key, msg_key in (("retCode", "retMsg"), ("code", "msg"), ("ret_code", "ret_msg")):
        if code_key in body:
            return str(body[code_key]), str(body.get(msg_key, ""))
    return "", ""


def answered(exc: BaseException) -> bool:
    """True when ccxt raised for an answer that arrived (no transport error behind it)."""
    return isinstance(exc, ccxt_async.BaseError) and exc.__cause__ is None


def status_of(exc: BaseException, body: Any) -> int:
    """The HTTP status ccxt wrote into ``exc`` (before the body), 200 for a venue body with
    a code (Bybit answers errors with 200), else 0 (unknown)."""
    head = str(exc).split("{", 1)[0]
    m = _STATUS_RE.search(head)
    if m:
        return int(m.group(1))
    code, _ = error_fields(body)
    return 200 if code and isinstance(body, dict) and "retCode" in body else 0


def now_ms() -> int:
    """Wall-clock UTC ms (execution bookkeeping only, never strategy decisions)."""
    return int(time.time() * 1000)


class LiveVenue:
    """The venue-independent part of a ccxt venue (:class:`core.execution.venue.ExecutionVenue`).

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
        user_stream: bool = True,
    ) -> None:
        self.specs = {k: v for k, v in specs.items() if k[0] == self.venue}
        self.stream: PrivateStream | None = None
        """The private order stream once :meth:`start` has opened it."""
        self._want_stream = user_stream
        self.book = book
        self.limiter = limiter
        self.retry_503_s = retry_503_s
        self.max_503_retries = max_503_retries
        self.max_rate_retries = max_rate_retries
        self.client: Any = None
        self._secrets: tuple[str, ...] = ()
        self.sent = 0
        self.warnings: list[str] = []

    def credentials(self) -> tuple[str, str]:
        """This venue's key and secret from the environment (:func:`credentials`), kept so
        that :meth:`redact` can take them out of every text."""
        key, secret = credentials(self.venue)
        self._secrets = (key, secret)
        return key, secret

    async def open_stream(self, make: Callable[[], PrivateStream]) -> None:
        """Open the private order stream ``make()`` builds, unless this venue was built
        without one (``user_stream=False``: the worker's look-ups only)."""
        if self._want_stream:
            self.stream = make()
            await self.stream.start()

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
        """(kind, reason): kind in rejected, duplicate, unknown, rate, clock, overload."""
        raise NotImplementedError

    # ------------------------------------------------------------ the one way into ccxt
    async def call(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """``await fn(*args)`` (a ccxt method of :attr:`client`) behind the limiter; see the
        module docstring. Raises :class:`~core.execution.limits.RateLimited` (nothing sent),
        :class:`VenueHttpError` (the venue refused) or ccxt's NetworkError (no answer)."""
        await self.limiter.acquire()
        client = self.client
        try:
            result = await fn(*args)
        except ccxt_async.BaseError as exc:
            if not answered(exc):
                raise
            body = body_of(exc)
            status = status_of(exc, body)
            self.limiter.observe(
                status or 400, client.last_response_headers or {}, client.last_http_response or ""
            )
            code, msg = error_fields(body)
            raise VenueHttpError(
                self.venue, type(exc), status, code, self.redact(msg or str(exc))
            ) from None
        self.limiter.observe(200, client.last_response_headers or {}, "")
        return self.raw_or(result)

    def raw_or(self, result: Any) -> Any:
        """ccxt's ``last_http_response`` decoded with Decimal numbers when it is the answer
        ccxt returned as ``result`` (an implicit endpoint method), else ``result``."""
        text = self.client.last_http_response
        if isinstance(text, str) and isinstance(result, (dict, list)):
            try:
                same = json.loads(text) == result
            except ValueError:
                same = False
            if same:
                return decode(text)
        return result

    async def resync(self) -> None:
        """Read the venue's clock again (after a timestamp refusal); ccxt signs with it."""
        await self.call(self.client.load_time_difference)

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
        (nothing executed) is retried once the shared limiter allows, a timestamp refusal
        once after :meth:`resync`, an "overloaded" refusal after ``retry_503_s``, always with
        the same id; any sign of the id in the meantime (user stream) stops the retry
        (HAZARDS H9).
        """
        cid, symbol = intent.client_order_id, intent.symbol
        spec, why = self.refuse(intent)
        if why or spec is None:
            return self.report(cid, symbol, OrderStatus.REJECTED, why)
        tries_503 = tries_rate = tries_clock = 0
        while True:
            if (tries_503 or tries_rate or tries_clock) and self.book.seen(cid):
                return self.known(cid, symbol)
            try:
                self.sent += 1
                return await self._send(intent, spec)
            except (RateLimited, NotSent) as exc:
                return self.report(cid, symbol, OrderStatus.REJECTED, str(exc))
            except Exception as exc:  # every failure is classified below
                kind, reason = self._classify(exc)
            if kind == "duplicate":
                found = await self.lookup(symbol, cid)
                if found.found:
                    return found
                return self.report(cid, symbol, OrderStatus.REJECTED, reason)
            if kind == "clock" and tries_clock < 1:
                tries_clock += 1
                try:
                    await self.resync()
                except Exception as exc:
                    log.warning("%s clock resync failed: %s", self.venue, self.redact(str(exc)))
                continue
            if kind == "rate" and tries_rate < self.max_rate_retries:
                tries_rate += 1
                continue
            if kind == "overload" and tries_503 < self.max_503_retries:
                tries_503 += 1
                await asyncio.sleep(self.retry_503_s)
                continue
            refused = kind in ("rejected", "rate", "clock")  # the venue executed nothing
            status = OrderStatus.REJECTED if refused else OrderStatus.UNKNOWN
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

    async def open_orders(self, symbol: str) -> list[str]:
        """Client ids of every order open on ``symbol`` at the venue (ours or not);
        :class:`VenueError` when the read failed."""
        raise NotImplementedError

    deadman_note: str = ""
    """Why the venue has no dead-man switch for this account ("" when it has one)."""

    async def arm_deadman(self, symbol: str, countdown_ms: int) -> bool:
        """Arm (or push back) the venue-side cancel-all countdown on ``symbol``: every open
        order of it is cancelled if no new call comes within ``countdown_ms``. False when the
        venue offers none (:attr:`deadman_note` says why); :class:`VenueError` when the call
        failed."""
        return False

    async def funding_income(self, symbol: str, since_ms: int) -> list[FundingReport]:
        """The venue's own funding records on ``symbol`` since ``since_ms`` (UTC ms) when it
        must be asked for them by REST; [] for a venue that reports them on its private
        stream. :class:`VenueError` when the call failed."""
        return []

    async def check_instrument(self, spec: InstrumentSpec) -> None:
        """Check an instrument added at run time as :meth:`start` checks the configured ones
        (listed, the venue's quantity step equal to ``spec.lot``, the kind, one-way position
        mode); raises :class:`VenueStartError` naming what is wrong (or that the calls
        failed). Nothing is learnt: see :meth:`learn`."""
        raise NotImplementedError

    def learn(self, spec: InstrumentSpec) -> InstrumentSpec | None:
        """Trade ``spec`` from now on (orders, look-ups, positions, the private stream's
        rows): it joins :attr:`specs` and the book's specs. Returns the spec it replaced (None:
        new), for :meth:`unlearn`."""
        key = (spec.venue, spec.symbol)
        old = self.specs.get(key)
        self.specs[key] = spec
        self.book.specs[key] = spec
        return old

    def unlearn(self, spec: InstrumentSpec, old: InstrumentSpec | None) -> None:
        """Undo :meth:`learn` of ``spec``: back to ``old`` (None: not known at all)."""
        key = (spec.venue, spec.symbol)
        if old is None:
            self.specs.pop(key, None)
            self.book.specs.pop(key, None)
        else:
            self.specs[key] = old
            self.book.specs[key] = old

    async def position(self, symbol: str) -> Decimal:
        raise NotImplementedError

    async def balance(self, currency: str) -> Decimal:
        raise NotImplementedError

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Close the private stream, then the ccxt session."""
        if self.stream is not None:
            await self.stream.close()
        if self.client is not None:
            await self.client.close()

    def position_unknown(self, symbol: str, exc: Exception) -> PositionUnknown:
        """The exception :meth:`position` raises, with a redacted reason."""
        return PositionUnknown(self.redact(f"{self.venue} {symbol}: position unknown: {exc}"))
