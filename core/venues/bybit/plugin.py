"""Bybit (v5) as a registered venue (see :mod:`core.venues.registry`): the public feed
(:mod:`core.venues.bybit.feed`), funding over REST (:mod:`core.venues.bybit.funding`) and
instrument specs from instruments-info (:mod:`core.venues.bybit.specs`), for linear and
inverse instruments alike (the kind comes from each instrument's config spec).

Live execution lives in ``core.venues.bybit.execution``; it is imported lazily by
:func:`make_venue` so that the feed side stands on its own (a paper run never loads it).
"""

from __future__ import annotations

import importlib
from collections.abc import Coroutine
from typing import Any

from core.domain.config import FeedSettings
from core.domain.events import InstrumentSpec
from core.venues.bybit.specs import load_specs, make_exchange
from core.venues.registry import ExecContext, FeedContext, Lifecycle, VenuePlugin

NAME = "bybit"


def kinds_of(ctx: FeedContext) -> dict[str, str]:
    """symbol -> ``linear``/``inverse`` for ``ctx.symbols``, from the configured instruments
    (linear when the config has no spec for a symbol)."""
    out: dict[str, str] = {}
    for symbol in ctx.symbols:
        spec = ctx.settings.instrument(NAME, symbol)
        out[symbol] = spec.kind if spec is not None else "linear"
    return out


def feed_tasks(ctx: FeedContext) -> list[Coroutine[Any, Any, None]]:
    """The public feed (tickers) and the funding REST pollers of ``ctx.symbols``."""
    from core.venues.bybit.feed import BybitFeed
    from core.venues.bybit.funding import BybitFunding

    cfg = ctx.settings.feeds
    kinds = kinds_of(ctx)
    funding = BybitFunding(
        kinds,
        ctx.sink,
        ctx.board.venue(NAME),
        cfg,
        lambda: make_exchange(cfg, asynchronous=True),
        log=ctx.log,
    )
    feed = BybitFeed(kinds, ctx.sink, ctx.board, cfg, interval_ms=funding.interval_ms, log=ctx.log)
    funding.next_settlement_ms = feed.next_settlement_ms
    ctx.feeds[NAME], ctx.feeds[f"{NAME}_funding"] = feed, funding
    return [feed.run(), funding.run()]


async def subscribe(feeds: dict[str, Any], specs: list[InstrumentSpec]) -> None:
    """Add ``specs``' symbols to the running feed (``{"op": "subscribe"}`` on the socket of
    their kind, or a socket of that kind opened) and to the funding pollers
    (instruments-info and funding/history read at once)."""
    kinds = {s.symbol: s.kind for s in specs if s.venue == NAME}
    feeds[f"{NAME}_funding"].add_instruments(kinds)
    await feeds[NAME].add_symbols(kinds)


def make_venue(ctx: ExecContext) -> Any:
    """The live execution client of ``core.venues.bybit.execution`` (imported on first use;
    its ``make_venue(ctx)`` builds it)."""
    module = importlib.import_module("core.venues.bybit.execution")
    return module.make_venue(ctx)


def open_universe(feeds: FeedSettings, taker_fee: float | None = None) -> Any:
    """The funding scanner's source (:mod:`core.venues.bybit.universe`, imported on use)."""
    from core.venues.bybit.universe import BybitUniverse

    return BybitUniverse(feeds, taker_fee)


PLUGIN = VenuePlugin(
    name=NAME,
    title="Bybit (v5)",
    lifecycle=Lifecycle(),
    feed_tasks=feed_tasks,
    make_venue=make_venue,
    load_specs=load_specs,
    subscribe=subscribe,
    open_universe=open_universe,
)
