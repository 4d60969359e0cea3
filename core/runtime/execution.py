"""Assembly of live execution: the venues named by the settings and the router in front of
them (in-process, or the Redis queue to ``arbtui worker`` processes)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from core.domain.config import Settings
from core.execution.limits import VenueLimiter, shared_limiter
from core.execution.router import OrderRouter, specs_of, timings
from core.execution.state import OrderBook
from core.venues.ccxt_base import LiveVenue


def build_venues(
    settings: Settings,
    book: OrderBook,
    *,
    user_streams: bool = True,
    limiters: Mapping[str, VenueLimiter] | None = None,
) -> dict[str, LiveVenue]:
    """One live venue per venue that has instruments in ``settings``; API keys from the
    environment (:class:`~core.venues.ccxt_base.VenueStartError` if missing). Each venue
    uses the process-wide limiter of its name unless ``limiters`` gives one."""
    from core.venues.binance.execution import BinanceVenue
    from core.venues.bitmex.execution import BitmexVenue

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
