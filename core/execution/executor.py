"""Execute one intent on its venue, exactly once per client order id (HAZARDS H9, H15).

The rules, in order:

1. An id already claimed before (a retry of the engine, a re-queued item after a worker died,
   a second copy of an intent) is looked up first; only a venue that does not know the id (or
   REJECTED it: a rejected order never existed) gets it sent, with the same id.
2. The send itself (:meth:`LiveVenue.place_report`) handles rate limits, clock refusals and
   duplicate-id refusals.
3. An UNKNOWN answer (timeout, 5xx) is resolved: wait up to ``unknown_grace_s`` for any sign
   of the id on the user stream; else look it up; a venue that does not know the id (and no
   sign of it meanwhile) gets it re-sent with the same id; repeat until resolved or
   ``resolve_budget_s`` runs out (the order then stays UNKNOWN and ``on_alert`` is called).

Binance's ``recvWindow`` (shorter than the REST timeout plus the grace) makes the venue refuse
a delayed copy of the first request, so a "not found" after the grace is final; Bybit's
``X-BAPI-RECV-WINDOW`` (retCode 10002) does the same for Bybit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from core.domain.orders import OrderIntent
from core.domain.venue import OrderStatus
from core.execution.state import OrderBook, Report
from core.execution.venue import ExecutionVenue


class Claims(Protocol):
    """Who saw an id first: ``claim`` is True only for the first claim of ``cid``; it also
    waits while another executor is working on ``cid`` (until ``release``)."""

    async def claim(self, cid: str) -> bool: ...

    async def release(self, cid: str) -> None: ...


class MemoryClaims:
    """Claims of one process."""

    def __init__(self) -> None:
        self.ids: set[str] = set()

    async def claim(self, cid: str) -> bool:
        if cid in self.ids:
            return False
        self.ids.add(cid)
        return True

    async def release(self, cid: str) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds: grace for the user stream after UNKNOWN, total budget to resolve."""

    unknown_grace_s: float = 2.0
    resolve_budget_s: float = 60.0


class OrderExecutor:
    """Runs intents against ``venues`` (by venue name); every report goes into ``book`` and,
    if given, to ``emit``. ``on_start(cid)`` is called right before the first venue call of
    an intent (latency measurement); ``on_alert(text)`` when an order stays UNKNOWN."""

    def __init__(
        self,
        venues: Mapping[str, ExecutionVenue],
        book: OrderBook,
        *,
        claims: Claims | None = None,
        timings: Timings | None = None,
        emit: Callable[[Report], None] | None = None,
        on_start: Callable[[str], None] | None = None,
        on_alert: Callable[[str], None] | None = None,
    ) -> None:
        self.venues = venues
        self.book = book
        self.claims = claims or MemoryClaims()
        self.timings = timings or Timings()
        self.emit = emit
        self.on_start = on_start
        self.on_alert = on_alert
        self.inflight: set[str] = set()
        self.coalesced = 0
        self.unresolved = 0

    def _report(self, rep: Report) -> None:
        self.book.apply(rep)
        if self.emit is not None:
            self.emit(rep)

    async def execute(self, intent: OrderIntent) -> None:
        """Execute ``intent`` (see the module docstring). A second call for an id still in
        flight here does nothing (counted in ``coalesced``)."""
        cid = intent.client_order_id
        if cid in self.inflight:
            self.coalesced += 1
            return
        self.inflight.add(cid)
        try:
            await self._execute(intent)
        finally:
            self.inflight.discard(cid)

    async def _execute(self, intent: OrderIntent) -> None:
        cid, symbol = intent.client_order_id, intent.symbol
        self.book.track(intent)
        venue = self.venues.get(intent.venue)
        if venue is None:
            if self.on_start is not None:
                self.on_start(cid)
            self._report(
                Report(
                    cid=cid,
                    venue=intent.venue,
                    symbol=symbol,
                    status=OrderStatus.REJECTED,
                    ts_ms=_now_ms(),
                    reason=f"no venue {intent.venue!r} configured",
                    source="local",
                )
            )
            return
        fresh = await self.claims.claim(cid)
        try:
            await self._run(venue, intent, fresh)
        finally:
            await self.claims.release(cid)

    async def _run(self, venue: ExecutionVenue, intent: OrderIntent, fresh: bool) -> None:
        cid, symbol = intent.client_order_id, intent.symbol
        if self.on_start is not None:
            self.on_start(cid)
        if not fresh:
            rep = await venue.lookup(symbol, cid)
            if rep.found and rep.status is not OrderStatus.UNKNOWN:
                if rep.status is not OrderStatus.REJECTED:
                    self._report(rep)
                    return
            elif rep.found:  # the lookup itself failed: never send blind
                self._report(rep)
                await self._resolve(venue, intent)
                return
        rep = await venue.place_report(intent)
        self._report(rep)
        if rep.status is OrderStatus.UNKNOWN:
            await self._resolve(venue, intent)

    async def _resolve(self, venue: ExecutionVenue, intent: OrderIntent) -> None:
        cid, symbol = intent.client_order_id, intent.symbol
        t = self.timings
        deadline = time.monotonic() + t.resolve_budget_s
        while time.monotonic() < deadline:
            wait = min(t.unknown_grace_s, max(deadline - time.monotonic(), 0.0))
            if await self.book.wait_seen(cid, wait):
                return
            rep = await venue.lookup(symbol, cid)
            if rep.found and rep.status is not OrderStatus.UNKNOWN:
                self._report(rep)
                return
            if not rep.found:
                if self.book.seen(cid):
                    return
                rep = await venue.place_report(intent)
                self._report(rep)
                if rep.status is not OrderStatus.UNKNOWN:
                    return
            await asyncio.sleep(0)
        self.unresolved += 1
        if self.on_alert is not None:
            self.on_alert(
                f"{intent.venue} {symbol} order {cid}: status still unknown after "
                f"{t.resolve_budget_s:g} s; check the venue before trading on"
            )


def _now_ms() -> int:
    return int(time.time() * 1000)
