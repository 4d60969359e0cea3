"""The order router the engine talks to, and :func:`build_execution` to make one from settings.

The engine hands intents to :meth:`OrderRouter.submit` (non-blocking, on the engine's loop
thread) and gets :class:`~core.venue.OrderUpdate` values back through ``router.listener``,
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

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from core.config import Settings
from core.events import InstrumentSpec
from core.execution.executor import Timings
from core.execution.limits import VenueLimiter, shared_limiter
from core.execution.state import OrderBook
from core.orders import OrderIntent
from core.venue import OrderUpdate

if TYPE_CHECKING:
    from core.execution.ccxt_base import LiveVenue


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


def build_venues(
    settings: Settings,
    book: OrderBook,
    *,
    user_streams: bool = True,
    limiters: Mapping[str, VenueLimiter] | None = None,
) -> dict[str, LiveVenue]:
    """One live venue per venue that has instruments in ``settings``; API keys from the
    environment (:class:`~core.execution.ccxt_base.VenueStartError` if missing). Each venue
    uses the process-wide limiter of its name unless ``limiters`` gives one."""
    from core.execution.binance import BinanceVenue
    from core.execution.bitmex import BitmexVenue

    specs = specs_of(settings)
    wanted = {s.venue for s in settings.instruments.values()}
    v = settings.venues
    lim = dict(limiters or {})
    for name in ("binance", "bitmex"):
        lim.setdefault(name, shared_limiter(name, v.max_rate_wait_s))
    out: dict[str, LiveVenue] = {}
    if "binance" in wanted:
        out["binance"] = BinanceVenue(
            v.binance,
            specs,
            book,
            lim["binance"],
            request_timeout_ms=v.request_timeout_ms,
            user_stream=user_streams,
        )
    if "bitmex" in wanted:
        out["bitmex"] = BitmexVenue(
            v.bitmex,
            specs,
            book,
            lim["bitmex"],
            request_timeout_ms=v.request_timeout_ms,
            user_stream=user_streams,
        )
    return out


def build_execution(
    settings: Settings,
    *,
    engine_id: str | None = None,
    limiters: Mapping[str, VenueLimiter] | None = None,
) -> tuple[OrderRouter, dict[str, LiveVenue]]:
    """The router for ``settings`` and the venues it uses (the engine may call the venues
    directly for positions, balances, cancel and cancel-all). ``[queue] redis_url`` empty:
    in-process; set: Redis (``engine_id`` names this engine's update list, default random).
    ``limiters`` replaces the process-wide per-venue limiters (tests).
    """
    book = OrderBook(specs_of(settings))
    venues = build_venues(settings, book, limiters=limiters)
    router: OrderRouter
    if settings.queue.redis_url:
        from core.execution.redis_router import RedisRouter

        router = RedisRouter(
            settings.queue, venues, book, engine_id=engine_id or uuid.uuid4().hex[:12]
        )
    else:
        from core.execution.inprocess import InProcessRouter

        router = InProcessRouter(venues, book, timings(settings))
    return router, venues
