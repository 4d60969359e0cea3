"""BitMEX through ccxt ``bitmex`` (testnet or production).

Endpoints (BitMEX REST API explorer, ``/api/v1``): ``POST /order`` (JSON: ``symbol``,
``side`` Buy/Sell, ``orderQty`` in contracts as an integer, ``ordType=Market``, ``clOrdID``,
``execInst=ReduceOnly``), ``GET /order?filter={"clOrdID":..}`` (an empty list = not found),
``DELETE /order`` (``clOrdID``), ``DELETE /order/all``, ``GET /position``,
``GET /user/margin?currency=XBt`` (minor units: XBt / 1e8, USDt / 1e6, HAZARDS H6),
``GET /instrument?symbol=`` (``lotSize``, ``isInverse`` must match the config).

Contracts: XBTUSD is inverse, 1 contract = 1 USD, lot 100; XBTUSDT is linear, 1 contract =
1e-6 XBT, lot 1000 (0.2 BTC = 200,000 contracts). Intents carry contracts already.

Errors: HTTP 503 "The system is currently overloaded" means not executed: the same clOrdID
is sent again after >= 500 ms; "Duplicate clOrdID" means already placed: looked up. A clOrdID
is unique among open orders only (BitMEX: "once an order has been filled or cancelled, the
value can be reused"), so an order whose answer was lost is looked up before any resend.

Position mode: an account in Hedge Mode (MultiWay) shows position rows with ``strategy``
Long/Short; such an account is refused at start-up.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt_async

from core.domain.config import BitmexVenueSettings
from core.domain.contracts import ZERO
from core.domain.events import InstrumentSpec
from core.domain.orders import OrderIntent
from core.domain.timeutil import parse_iso_ms
from core.domain.venue import OrderStatus
from core.execution.limits import VenueLimiter
from core.execution.state import OrderBook, Report
from core.venues.ccxt_base import (
    CcxtHooks,
    LiveVenue,
    VenueError,
    VenueHttpError,
    VenueStartError,
    _quiet_logger,
    credentials,
    now_ms,
)

STATUS = {
    "New": OrderStatus.ACCEPTED,
    "PendingNew": OrderStatus.ACCEPTED,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Filled": OrderStatus.FILLED,
    "Canceled": OrderStatus.CANCELLED,
    "Expired": OrderStatus.CANCELLED,
    "DoneForDay": OrderStatus.CANCELLED,
    "Stopped": OrderStatus.CANCELLED,
    "Rejected": OrderStatus.REJECTED,
    "PendingCancel": OrderStatus.ACCEPTED,
}
#: Execution types that only move an order's status (no quantity changes hands).
STATUS_EXEC_TYPES = frozenset(
    {
        "New",
        "Canceled",
        "Rejected",
        "Replaced",
        "Restated",
        "Expired",
        "TriggeredOrActivatedBySystem",
        "Suspended",
    }
)
#: Settlement currency (minor unit) -> (currency, units per minor unit).
MINOR_UNITS = {"XBt": ("XBT", Decimal("1e-8")), "USDt": ("USDT", Decimal("1e-6"))}
TESTNET_WS = "wss://ws.testnet.bitmex.com/realtime"
PROD_WS = "wss://ws.bitmex.com/realtime"


class BitmexClient(CcxtHooks, ccxt_async.bitmex):  # type: ignore[misc]
    """ccxt ``bitmex`` with the arbtui hooks."""


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


def _ts(row: dict[str, Any]) -> int:
    text = row.get("transactTime") or row.get("timestamp")
    return parse_iso_ms(str(text)) if text else now_ms()


def parse_order_row(row: dict[str, Any], source: str = "rest") -> Report:
    """An order row (REST answer or ``order`` table) as a :class:`Report`."""
    avg = _dec(row.get("avgPx"))
    return Report(
        cid=str(row.get("clOrdID") or ""),
        venue="bitmex",
        symbol=str(row.get("symbol", "")),
        status=STATUS.get(str(row.get("ordStatus")), OrderStatus.UNKNOWN),
        filled_qty=_dec(row.get("cumQty")),
        avg_price=avg if avg > 0 else None,
        ts_ms=_ts(row),
        reason=str(row.get("ordRejReason") or row.get("error") or ""),
        raw=json.dumps(row, default=str, separators=(",", ":")),
        source=source,
    )


def parse_execution_row(row: dict[str, Any]) -> Report | None:
    """An ``execution`` table row as a :class:`Report`, or None when it is not about one of
    our orders' executions: ``execType`` Funding, Settlement, Insurance and other account
    rows are never fills (a Funding row carries the position as ``lastQty``, the mark as
    ``lastPx`` and ``ordStatus`` Filled, with no clOrdID); rows without clOrdID are not ours."""
    exec_type = row.get("execType")
    cid = row.get("clOrdID") or ""
    if not cid or (exec_type != "Trade" and exec_type not in STATUS_EXEC_TYPES):
        return None
    base = parse_order_row(row, source="stream")
    if exec_type != "Trade":
        return base
    ccy, unit = MINOR_UNITS.get(str(row.get("settlCurrency")), ("", Decimal(1)))
    comm = row.get("execComm")
    return msgspec_replace(
        base,
        exec_id=str(row.get("execID", "")),
        last_qty=_dec(row.get("lastQty")),
        last_price=_dec(row.get("lastPx")) or None,
        fee=_dec(comm) * unit if comm is not None else None,
        fee_currency=ccy,
    )


def msgspec_replace(rep: Report, **changes: Any) -> Report:
    """``rep`` with ``changes`` (Report is a frozen msgspec Struct)."""
    import msgspec

    return msgspec.structs.replace(rep, **changes)


class BitmexVenue(LiveVenue):
    """BitMEX account (one-way mode) for the instruments in ``specs``."""

    venue = "bitmex"

    def __init__(
        self,
        settings: BitmexVenueSettings,
        specs: dict[tuple[str, str], InstrumentSpec],
        book: OrderBook,
        limiter: VenueLimiter,
        *,
        request_timeout_ms: int = 10000,
        user_stream: bool = True,
    ) -> None:
        super().__init__(
            specs,
            book,
            limiter,
            retry_503_s=settings.retry_503_ms / 1000,
            max_503_retries=settings.max_503_retries,
        )
        key, secret = credentials("bitmex")
        self._secrets = (key, secret)
        self.settings = settings
        client = BitmexClient(
            {
                "apiKey": key,
                "secret": secret,
                "timeout": request_timeout_ms,
                "enableRateLimit": False,
                "logger": _quiet_logger(),
            }
        )
        client.arb_venue = "bitmex"
        client.arb_limiter = limiter
        if settings.env == "testnet":
            client.set_sandbox_mode(True)
        if settings.rest_url:
            base = settings.rest_url.rstrip("/")
            client.urls["api"] = {"public": base, "private": base}
        self.client = client
        self.ws_url = settings.ws_url or (TESTNET_WS if settings.env == "testnet" else PROD_WS)
        self.stream: Any = None
        self._want_stream = user_stream

    # ------------------------------------------------------------ start
    async def start(self) -> None:
        """Check each instrument (lot, inverse/linear) and one-way mode, open the stream."""
        try:
            rows = {s: await self.client.publicGetInstrument({"symbol": s}) for _, s in self.specs}
            positions = await self.client.privateGetPosition()
        except Exception as exc:
            raise VenueStartError(self.redact(f"bitmex: start-up calls failed: {exc}")) from None
        for (_, symbol), spec in self.specs.items():
            found = [r for r in rows[symbol] if r.get("symbol") == symbol]
            if not found:
                raise VenueStartError(f"bitmex: instrument {symbol} not found")
            self._check_instrument(spec, found[0])
        hedged = [p for p in positions if p.get("strategy") in ("Long", "Short")]
        if hedged:
            raise VenueStartError(
                "bitmex: the account is in Hedge Mode (positions with strategy "
                f"{sorted({p['strategy'] for p in hedged})}); arbtui trades one-way only: "
                "switch to One-Way mode (POST /user/positionMode), then start again"
            )
        if self._want_stream:
            from core.venues.bitmex.user_stream import BitmexUserStream

            self.stream = BitmexUserStream(self)
            await self.stream.start()

    def _check_instrument(self, spec: InstrumentSpec, row: dict[str, Any]) -> None:
        where = f"bitmex {spec.symbol}"
        lot = _dec(row.get("lotSize"))
        if lot != spec.lot:
            raise VenueStartError(f"{where}: configured lot {spec.lot} but lotSize is {lot}")
        inverse = bool(row.get("isInverse"))
        if inverse != (spec.kind == "inverse"):
            raise VenueStartError(f"{where}: configured {spec.kind} but isInverse={inverse}")
        mult = row.get("underlyingToPositionMultiplier")
        if not inverse and mult and Decimal(1) / _dec(mult) != spec.contract_size:
            raise VenueStartError(
                f"{where}: configured contract_size {spec.contract_size} but one contract is "
                f"{Decimal(1) / _dec(mult)} of the underlying"
            )
        tick = _dec(row.get("tickSize"))
        if tick and tick != spec.tick:
            self.warnings.append(f"{where}: tick {spec.tick} configured, {tick} live")

    async def close(self) -> None:
        if self.stream is not None:
            await self.stream.close()
        await super().close()

    # ------------------------------------------------------------ orders
    async def _send(self, intent: OrderIntent, spec: InstrumentSpec) -> Report:
        params: dict[str, Any] = {
            "symbol": intent.symbol,
            "side": "Buy" if intent.side == "buy" else "Sell",
            "orderQty": int(intent.qty),
            "ordType": "Market",
            "clOrdID": intent.client_order_id,
        }
        if intent.reduce_only:
            params["execInst"] = "ReduceOnly"
        return parse_order_row(await self.client.privatePostOrder(params))

    async def lookup(self, symbol: str, cid: str) -> Report:
        try:
            rows = await self.client.privateGetOrder(
                {
                    "symbol": symbol,
                    "filter": json.dumps({"clOrdID": cid}),
                    "reverse": "true",
                    "count": 1,
                }
            )
        except Exception as exc:
            return self.report(cid, symbol, OrderStatus.UNKNOWN, f"lookup failed: {exc}")
        mine = [r for r in rows if r.get("clOrdID") == cid]
        if not mine:
            return self.report(cid, symbol, OrderStatus.UNKNOWN, "not found", found=False)
        return parse_order_row(mine[0])

    async def _cancel(self, symbol: str, cid: str) -> Report:
        try:
            rows = await self.client.privateDeleteOrder({"clOrdID": cid})
        except VenueHttpError as exc:
            if exc.status == 404 or "Not Found" in exc.msg:
                return await self.lookup(symbol, cid)
            return self.report(cid, symbol, OrderStatus.UNKNOWN, f"cancel failed: {exc}")
        except Exception as exc:
            return self.report(cid, symbol, OrderStatus.UNKNOWN, f"cancel failed: {exc}")
        mine = [r for r in rows if r.get("clOrdID") == cid]
        if not mine:
            return await self.lookup(symbol, cid)
        return parse_order_row(mine[0])

    def _classify(self, exc: Exception) -> tuple[str, str]:
        if isinstance(exc, VenueHttpError):
            text = f"bitmex {exc.status}: {exc.msg}"
            if exc.status == 503:
                return "overload", text
            if exc.status == 429:
                return "rate", text
            if "Duplicate clOrdID" in exc.msg:
                return "duplicate", text
            if exc.status >= 500:
                return "unknown", text
            return "rejected", text
        return "unknown", self.redact(f"bitmex: no answer ({type(exc).__name__}: {exc})")

    async def cancel_all(self, symbol: str) -> None:
        """``DELETE /order/all``; :class:`VenueError` when it failed."""
        try:
            await self.client.privateDeleteOrderAll({"symbol": symbol})
        except Exception as exc:
            raise VenueError(self.redact(f"bitmex {symbol}: cancel-all failed: {exc}")) from None

    async def position(self, symbol: str) -> Decimal:
        """Signed position in contracts (``currentQty``; no row = flat)."""
        try:
            rows = await self.client.privateGetPosition({"filter": json.dumps({"symbol": symbol})})
        except Exception as exc:
            raise self.position_unknown(symbol, exc) from None
        if not isinstance(rows, list):
            raise self.position_unknown(symbol, ValueError("unexpected answer"))
        return sum((_dec(r.get("currentQty")) for r in rows if r.get("symbol") == symbol), ZERO)

    async def balance(self, currency: str = "XBT") -> Decimal:
        """Wallet balance in units of ``currency`` (XBT or USDT), from minor units."""
        minor = {"XBT": "XBt", "USDT": "USDt"}.get(currency, currency)
        try:
            row = await self.client.privateGetUserMargin({"currency": minor})
        except Exception as exc:
            raise VenueError(self.redact(f"bitmex: balance read failed: {exc}")) from None
        if isinstance(row, list):
            row = next((r for r in row if r.get("currency") == minor), {})
        _, unit = MINOR_UNITS.get(minor, ("", Decimal(1)))
        return _dec(row.get("walletBalance")) * unit
