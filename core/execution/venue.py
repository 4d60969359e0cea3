"""The one execution-venue interface every live venue implements
(:class:`~core.venues.ccxt_base.LiveVenue` and its subclasses); the executors, routers and the
live runtime speak to venues only through it. All calls are async; an exchange's refusal is a
value (a REJECTED or UNKNOWN report or update), never an exception, except where noted.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from core.domain.events import InstrumentSpec
from core.domain.orders import OrderIntent
from core.domain.venue import OrderUpdate
from core.execution.state import Report


class ExecutionVenue(Protocol):
    """An exchange account for one venue."""

    venue: str
    specs: dict[tuple[str, str], InstrumentSpec]
    """The instruments it trades, by (venue, symbol)."""

    async def start(self) -> None:
        """Load instruments, check one-way position mode and lot sizes (refuse to trade
        otherwise: raises :class:`~core.venues.ccxt_base.VenueStartError`), open the private
        stream."""

    async def place_report(self, intent: OrderIntent) -> Report:
        """Send ``intent`` once (market order; reduce-only as given; the client order id
        reused on every retry) and say what the venue answered."""

    async def lookup(self, symbol: str, cid: str) -> Report:
        """The order's state at the venue, by client order id (``found`` False if unknown)."""

    async def place(self, intent: OrderIntent) -> OrderUpdate:
        """:meth:`place_report` as the engine's update."""

    async def query(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """:meth:`lookup` as the engine's update."""

    async def cancel(self, symbol: str, client_order_id: str) -> OrderUpdate:
        """Cancel one order."""

    async def cancel_all(self, symbol: str) -> None:
        """Cancel every open order on ``symbol``."""

    async def check_instrument(self, spec: InstrumentSpec) -> None:
        """Check an instrument added at run time as :meth:`start` checks the configured ones
        (raises :class:`~core.venues.ccxt_base.VenueStartError` naming what is wrong)."""

    def learn(self, spec: InstrumentSpec) -> InstrumentSpec | None:
        """Trade ``spec`` from now on; returns the spec it replaced (None: new)."""

    def unlearn(self, spec: InstrumentSpec, old: InstrumentSpec | None) -> None:
        """Undo :meth:`learn` (back to ``old``; None: not known at all)."""

    async def position(self, symbol: str) -> Decimal:
        """Signed position in the venue's unit (BTC or contracts); raises
        :class:`~core.domain.venue.PositionUnknown` when it cannot be read."""

    async def balance(self, currency: str) -> Decimal:
        """The account's balance of ``currency``."""

    async def close(self) -> None:
        """Release connections."""
