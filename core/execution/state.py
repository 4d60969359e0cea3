"""The order state machine: venue reports in, the engine's order updates out.

A :class:`Report` is one thing a venue said about one client order id, from a REST answer
(place, lookup, cancel) or a user stream (Binance ``ORDER_TRADE_UPDATE``, Bybit ``order`` /
``execution`` rows). A venue's own funding statement is a :class:`FundingReport`, kept apart
from orders (:meth:`OrderBook.apply_funding`). Several sources report the same order, in any
order and more than once; :class:`OrderBook` merges them per client order id:

- status only moves forward: NEW -> ACCEPTED -> PARTIALLY_FILLED -> FILLED | CANCELLED |
  REJECTED; a final status is absorbing; UNKNOWN (the answer was lost) is taken only while
  nothing better is known;
- a fill is an increase of the cumulative filled quantity (``filled_qty``), so a stream
  execution and the REST answer for the same quantity give one fill, never two; an execution
  id already seen is ignored;
- the fill's price is the execution's own (stream) or derived from the cumulative average
  price (REST: linear value = qty x price; inverse value = qty / price);
  its fee is the venue's own when the report carries it, else the instrument's taker fee on
  the fill (:func:`core.domain.contracts.fee_amount`).

Everything here runs on one event loop (no locks). Times come from the reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import msgspec

from core.domain.contracts import ZERO, fee_amount
from core.domain.events import InstrumentSpec
from core.domain.orders import Fill, OrderIntent
from core.domain.venue import OrderStatus, OrderUpdate

_RANK = {
    OrderStatus.UNKNOWN: 0,
    OrderStatus.NEW: 1,
    OrderStatus.ACCEPTED: 2,
    OrderStatus.PARTIALLY_FILLED: 3,
    OrderStatus.FILLED: 4,
    OrderStatus.CANCELLED: 4,
    OrderStatus.REJECTED: 4,
}
PRICE_QUANTUM = Decimal("1e-8")


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """One venue statement about one order.

    ``filled_qty`` is cumulative in the venue's unit (BTC for linear, contracts for inverse);
    ``avg_price`` the cumulative average fill price (None before a fill). ``exec_id``,
    ``last_qty``, ``last_price``, ``fee`` (in ``fee_currency``, >= 0 paid) describe one
    execution when the source reports executions (user streams). ``found`` is False when a
    lookup says the venue does not know the id (never placed). ``latency_s`` carries the
    intent-to-venue latency measured by a Redis worker (first report of an intent only).
    """

    cid: str
    venue: str
    symbol: str
    status: OrderStatus
    filled_qty: Decimal = ZERO
    avg_price: Decimal | None = None
    exec_id: str = ""
    last_qty: Decimal = ZERO
    last_price: Decimal | None = None
    fee: Decimal | None = None
    fee_currency: str = ""
    ts_ms: int = 0
    reason: str = ""
    raw: str = ""
    source: str = "rest"
    found: bool = True
    latency_s: float | None = None


class FundingReport(msgspec.Struct, frozen=True, kw_only=True):
    """One funding payment the venue booked on the account (a Bybit ``execution`` row with
    ``execType`` Funding, a Binance ``FUNDING_FEE`` income row): never a fill. ``position``
    signed in the venue's unit (BTC or contracts) at the settlement; ``amount`` signed,
    **received > 0**, in ``currency`` (Bybit's ``execFee`` is positive when paid, so
    ``amount = -execFee``; Binance's ``income`` is already received > 0); ``rate`` the funding
    rate (``feeRate``); ``mark_price`` the price it was charged at (``execPrice``). A venue
    whose record lacks rate, mark or position gives None there (Binance income)."""

    venue: str
    symbol: str
    exec_id: str
    ts_ms: int
    rate: Decimal | None
    mark_price: Decimal | None
    position: Decimal | None
    amount: Decimal
    currency: str
    raw: str = ""


@dataclass(slots=True)
class OrderState:
    """What is known of one order (client order id)."""

    cid: str
    venue: str
    symbol: str
    intent: OrderIntent | None
    status: OrderStatus = OrderStatus.NEW
    filled_qty: Decimal = ZERO
    value: Decimal = ZERO
    """Linear: sum of qty x price; inverse: sum of qty / price (for fill prices from averages)."""
    exec_ids: set[str] = field(default_factory=set)
    fills: int = 0
    reason: str = ""
    seen: bool = False
    """A venue statement other than UNKNOWN / not-found arrived (the order exists there)."""


class OrderBook:
    """Order states of one process, keyed by client order id.

    ``specs`` maps (venue, symbol) to the instrument (fees, linear/inverse). ``on_update`` is
    called with every new :class:`OrderUpdate` of a tracked order (on the caller's loop).
    """

    def __init__(self, specs: dict[tuple[str, str], InstrumentSpec]) -> None:
        self.specs = specs
        self.orders: dict[str, OrderState] = {}
        self.on_update: Callable[[OrderUpdate], None] | None = None
        self.untracked = 0
        self.funding: list[FundingReport] = []
        """Funding the venues booked (their own statement; the ledger books its own)."""
        self.on_funding: Callable[[FundingReport], None] | None = None
        self.on_position: Callable[[str, str], None] | None = None
        """Told (venue, symbol) when a venue's position stream reports a size change."""
        self.positions: dict[tuple[str, str], Decimal] = {}
        """The venues' position streams' last size per (venue, symbol), venue unit."""
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._funding_ids: set[str] = set()

    def track(self, intent: OrderIntent) -> OrderState:
        """Register ``intent``. Idempotent: a retry of the same id keeps the state, except
        that an order the venue REJECTED without a fill starts over (a rejected order never
        existed, so its id may be sent again)."""
        st = self.orders.get(intent.client_order_id)
        if st is not None and st.status is OrderStatus.REJECTED and st.filled_qty == 0:
            st = None
        if st is None:
            st = OrderState(intent.client_order_id, intent.venue, intent.symbol, intent)
            self.orders[intent.client_order_id] = st
        elif st.intent is None:
            st.intent = intent
        return st

    def apply_funding(self, f: FundingReport) -> bool:
        """Book one venue funding payment (once per execution id); never touches an order.
        Returns False for a repeat."""
        key = f"{f.venue}:{f.exec_id}"
        if key in self._funding_ids:
            return False
        self._funding_ids.add(key)
        self.funding.append(f)
        if self.on_funding is not None:
            self.on_funding(f)
        return True

    def apply_position(self, venue: str, symbol: str, qty: Decimal) -> None:
        """A venue's position stream says ``symbol`` now holds ``qty`` (signed, venue unit);
        a change is passed on (the engine compares it by REST: the stream may lead or lag
        our own order updates)."""
        key = (venue, symbol)
        if self.positions.get(key) == qty:
            return
        self.positions[key] = qty
        if self.on_position is not None:
            self.on_position(venue, symbol)

    def get(self, cid: str) -> OrderState | None:
        """The state of ``cid``, or None."""
        return self.orders.get(cid)

    def seen(self, cid: str) -> bool:
        """True once the venue has shown the order (stream or REST), whatever its status."""
        st = self.orders.get(cid)
        return st is not None and st.seen

    async def wait_seen(self, cid: str, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for any sign of ``cid`` from the venue (HAZARDS H9)."""
        if self.seen(cid):
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(cid, []).append(fut)
        try:
            await asyncio.wait_for(fut, timeout_s)
            return True
        except TimeoutError:
            return self.seen(cid)
        finally:
            waiters = self._waiters.get(cid)
            if waiters and fut in waiters:
                waiters.remove(fut)
                if not waiters:
                    del self._waiters[cid]

    def snapshot(self, cid: str, ts_ms: int = 0) -> OrderUpdate:
        """The current state of ``cid`` as an update without a fill."""
        st = self.orders[cid]
        return OrderUpdate(
            cid, st.venue, st.symbol, st.status, st.filled_qty, ts_ms, None, st.reason
        )

    def apply(self, rep: Report) -> OrderUpdate | None:
        """Merge ``rep``; return (and pass to ``on_update``) the update it causes, if any."""
        st = self.orders.get(rep.cid)
        if st is None:
            st = OrderState(rep.cid, rep.venue, rep.symbol, None)
            self.orders[rep.cid] = st
        if not rep.found or rep.status is OrderStatus.UNKNOWN:
            if st.status is OrderStatus.NEW and rep.status is OrderStatus.UNKNOWN:
                st.status = OrderStatus.UNKNOWN
                st.reason = rep.reason
                return self._emit(st, rep, None)
            return None
        first_sign = not st.seen
        st.seen = True
        if first_sign:
            self._wake(rep.cid)
        fill = self._fill(st, rep)
        changed = fill is not None
        if st.status.final:
            pass
        elif _RANK[rep.status] > _RANK[st.status] or st.status is OrderStatus.UNKNOWN:
            st.status = rep.status
            st.reason = rep.reason or st.reason
            changed = True
        if st.status is OrderStatus.ACCEPTED and st.filled_qty > 0:
            st.status = OrderStatus.PARTIALLY_FILLED
        if not changed:
            return None
        return self._emit(st, rep, fill)

    def _emit(self, st: OrderState, rep: Report, fill: Fill | None) -> OrderUpdate | None:
        upd = OrderUpdate(
            st.cid,
            st.venue,
            st.symbol,
            st.status,
            st.filled_qty,
            rep.ts_ms,
            fill,
            st.reason,
            rep.raw,
        )
        if st.intent is None:
            self.untracked += 1
            return None
        if self.on_update is not None:
            self.on_update(upd)
        return upd

    def _wake(self, cid: str) -> None:
        for fut in self._waiters.pop(cid, ()):
            if not fut.done():
                fut.set_result(None)

    def _fill(self, st: OrderState, rep: Report) -> Fill | None:
        if rep.exec_id and rep.exec_id in st.exec_ids:
            return None
        if rep.exec_id:
            st.exec_ids.add(rep.exec_id)
        delta = rep.filled_qty - st.filled_qty
        if delta <= 0:
            return None
        spec = self.specs.get((st.venue, st.symbol))
        inverse = spec is not None and spec.kind == "inverse"
        price = self._price(st, rep, delta, inverse)
        st.filled_qty = rep.filled_qty
        if price is None or price <= 0:
            st.reason = f"fill of {delta} without a price"
            return None
        st.value += delta / price if inverse else delta * price
        if rep.fee is not None and rep.last_qty > 0:
            fee = rep.fee if rep.last_qty == delta else rep.fee * delta / rep.last_qty
            fee_ccy = rep.fee_currency or (spec.settle_currency if spec else "")
        elif spec is not None:
            fee = fee_amount(spec, delta, price, spec.taker_fee).quantize(PRICE_QUANTUM)
            fee_ccy = spec.settle_currency
        else:
            fee, fee_ccy = ZERO, ""
        st.fills += 1
        intent = st.intent
        if intent is None:
            return None
        return Fill(
            st.cid,
            intent.pair,
            st.venue,
            st.symbol,
            intent.side,
            delta,
            price,
            fee,
            fee_ccy,
            intent.reduce_only,
            intent.purpose,
            rep.ts_ms,
        )

    @staticmethod
    def _price(st: OrderState, rep: Report, delta: Decimal, inverse: bool) -> Decimal | None:
        if rep.last_price is not None and rep.last_qty == delta:
            return rep.last_price
        avg = rep.avg_price
        if avg is None or avg <= 0:
            return rep.last_price
        if st.filled_qty == 0:
            return avg
        if inverse:
            coin = rep.filled_qty / avg - st.value
            return (delta / coin).quantize(PRICE_QUANTUM) if coin > 0 else avg
        quote = avg * rep.filled_qty - st.value
        return (quote / delta).quantize(PRICE_QUANTUM) if quote > 0 else avg
