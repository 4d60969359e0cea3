"""Assembly of live execution: the venues named by the settings and the router in front of
them (in-process, or the Redis queue to ``arbtui worker`` processes)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping

from core.domain.config import Settings
from core.execution.limits import VenueLimiter, shared_limiter
from core.execution.router import OrderRouter, specs_of, timings
from core.execution.state import OrderBook
from core.venues import registry
from core.venues.ccxt_base import LiveVenue
from core.venues.registry import ExecContext


def build_venues(
    settings: Settings,
    book: OrderBook,
    *,
    user_streams: bool = True,
    limiters: Mapping[str, VenueLimiter] | None = None,
) -> dict[str, LiveVenue]:
    """One live venue per venue that has instruments in ``settings`` (its registry plugin
    builds it; API keys from the environment, else
    :class:`~core.venues.ccxt_base.VenueStartError`). Each venue uses the process-wide limiter
    of its name unless ``limiters`` gives one. Raises
    :class:`~core.venues.registry.VenueClosedError` for a venue that can no longer trade."""
    specs = specs_of(settings)
    wanted = list(dict.fromkeys(s.venue for s in settings.instruments.values()))
    traded = list(dict.fromkeys(settings.instruments[i].venue for i in settings.traded_ids()))
    registry.check_tradeable(traded, int(time.time() * 1000), "live")
    lim = dict(limiters or {})
    out: dict[str, LiveVenue] = {}
    for name in wanted:
        make = registry.plugin(name).make_venue
        if make is None:
            continue  # history only (an untraded instrument of a closed venue in the config)
        limiter = lim.get(name) or shared_limiter(name, settings.venues.max_rate_wait_s)
        out[name] = make(ExecContext(settings, specs, book, limiter, user_streams))
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
