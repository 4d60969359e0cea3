"""The order router the engine talks to (:func:`core.runtime.execution.build_execution` makes one).

The engine hands intents to :meth:`OrderRouter.submit` (non-blocking, on the engine's loop
thread) and gets :class:`~core.domain.venue.OrderUpdate` values back through ``router.listener``,
always called on the loop that runs :meth:`OrderRouter.run` (the engine's). Two
implementations share the interface: :class:`~core.execution.inprocess.InProcessRouter`
(``[queue] redis_url`` empty) and :class:`~core.execution.redis_router.RedisRouter` (intents go
through the Redis queue to ``arbtui worker`` processes; updates come back through Redis and
the engine process's own user streams).

Life cycle, on the engine's loop::

    router, venues = build_execution(settings)
    router.listener = engine_on_order_update      # (OrderUpdate) -> None
    router.on_latency = histogram.observe         # seconds, submit -> venue call
    await router.start()                          # venues: keys, one-way mode, user streams
    task = loop.create_task(router.run())         # until close()
    ... router.submit(intent) ...
    ... await venues["binance"].position("BTCUSDT"), await venue.cancel_all(symbol) ...
    await router.close()                          # stops run(), closes the venues
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.domain.config import Settings
from core.domain.events import InstrumentSpec
from core.domain.orders import OrderIntent
from core.domain.venue import OrderUpdate
from core.execution.executor import Timings
from core.execution.state import OrderBook


@dataclass(frozen=True, slots=True)
class QueueStats:
    """For metrics: intents submitted and not yet at a venue (``depth``), the age of the
    oldest of them in seconds (0 when empty), and intents being executed (``inflight``)."""

    depth: int
    oldest_age_s: float
    inflight: int


class OrderRouter(Protocol):
    """Intents in, order updates out (see the module docstring)."""

    listener: Callable[[OrderUpdate], None] | None
    on_latency: Callable[[float], None] | None
    on_alert: Callable[[str], None] | None
    book: OrderBook

    def submit(self, intent: OrderIntent) -> None:
        """Queue ``intent``; returns at once. Call on the router's loop thread."""

    def learn(self, spec: InstrumentSpec) -> None:
        """Execute orders on ``spec`` from now on (an instrument added at run time, already
        checked at its venue): the venues and the book take it; the Redis router also sends
        it with every intent on it, for workers whose config lacks it."""

    async def start(self) -> None:
        """Start the venues (and check Redis); raises on a venue that may not trade."""

    async def run(self) -> None:
        """The router's own loops; returns after :meth:`close`."""

    async def stats(self) -> QueueStats:
        """Queue depth and age for metrics."""

    async def close(self) -> None:
        """Stop, close the venues and connections."""


def timings(settings: Settings) -> Timings:
    """Executor timings from ``[venues]``."""
    v = settings.venues
    return Timings(unknown_grace_s=v.unknown_grace_ms / 1000, resolve_budget_s=v.resolve_budget_s)


def specs_of(settings: Settings) -> dict[tuple[str, str], InstrumentSpec]:
    """Instruments by (venue, symbol)."""
    return {(s.venue, s.symbol): s for s in settings.instruments.values()}
