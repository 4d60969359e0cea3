"""The venue registry: a venue's name -> its package's :class:`VenuePlugin`.

Every venue lives in one package ``core/venues/<name>/`` whose ``plugin`` module defines
``PLUGIN``. Nothing outside ``core/venues/`` (and the config's per-venue sections) names a
venue: the runtime asks the registry for a venue's feed tasks, its execution client, its
instrument-spec loader and its lifecycle. Packages are imported on first use, so a run that
trades two venues loads neither ccxt class of a third. ``docs/venues.md`` says how to add one.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from core.domain.errors import BadInput

if TYPE_CHECKING:
    from core.domain.config import FeedSettings, Settings
    from core.domain.events import InstrumentSpec
    from core.execution.limits import VenueLimiter
    from core.execution.state import OrderBook
    from core.feeds.health import HealthBoard
    from core.feeds.sink import EventSink
    from core.venues.ccxt_base import LiveVenue
    from core.venues.universe import UniverseSource

PACKAGES: dict[str, str] = {
    "binance": "core.venues.binance.plugin",
    "bybit": "core.venues.bybit.plugin",
    "bitmex": "core.venues.bitmex.plugin",
}
"""Registered venues: name -> module that defines ``PLUGIN``."""

State = Literal["live", "reduce_only", "closed"]


class VenueClosedError(BadInput):
    """A live or paper run named a venue that can no longer be traded (exit code 2)."""


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """Where a venue stands, with its dates (ms since the epoch, UTC).

    ``reduce_only_from_ms``: from then on only reduce-only orders are accepted;
    ``closed_at_ms``: from then on nothing (the venue is history: import and replay only).
    """

    reduce_only_from_ms: int | None = None
    closed_at_ms: int | None = None
    note: str = ""

    def state(self, now_ms: int) -> State:
        """The state at ``now_ms``."""
        if self.closed_at_ms is not None and now_ms >= self.closed_at_ms:
            return "closed"
        if self.reduce_only_from_ms is not None and now_ms >= self.reduce_only_from_ms:
            return "reduce_only"
        return "live"


@dataclass(frozen=True, slots=True)
class FeedContext:
    """What a venue's public feed gets from the runtime: the symbols to subscribe, the one
    door into the engine (``sink``), the health board, the settings, a log function
    ``log(kind, text)`` (kind ``"alert"`` or ``"state"``)."""

    symbols: list[str]
    sink: EventSink
    board: HealthBoard
    settings: Settings
    log: Callable[[str, str], None]
    feeds: dict[str, Any] = field(default_factory=dict)
    """The feed objects built, by name, for tests and the status line (filled by the plugin)."""


@dataclass(frozen=True, slots=True)
class ExecContext:
    """What a venue's execution client gets: settings, every instrument spec by (venue,
    symbol), the process's order book, the venue's rate limiter, and whether to run the
    private stream."""

    settings: Settings
    specs: dict[tuple[str, str], InstrumentSpec]
    book: OrderBook
    limiter: VenueLimiter
    user_stream: bool = True


@dataclass(frozen=True, slots=True)
class VenueSpecs:
    """What a venue's spec loader found: ``specs``, the given specs it lists, refreshed; and
    ``not_trading``, symbol -> why for those it lists but does not trade now (its status
    word and where it was read, e.g. ``"status SETTLING (exchangeInfo)"``; HAZARDS H23)."""

    specs: list[InstrumentSpec]
    not_trading: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VenuePlugin:
    """One venue. ``feed_tasks`` and ``make_venue`` are None for a venue that is history.

    ``load_specs(settings, specs)`` returns the given specs of this venue refreshed from its
    REST endpoints, and which of them it does not trade now (:class:`VenueSpecs`; raises on
    a network or shape error; the caller falls back to the config).
    ``fee_currency`` maps a settle currency to the currency the ledger keeps it in.
    """

    name: str
    title: str
    lifecycle: Lifecycle
    feed_tasks: Callable[[FeedContext], list[Coroutine[Any, Any, None]]] | None = None
    make_venue: Callable[[ExecContext], LiveVenue] | None = None
    load_specs: Callable[[Settings, list[InstrumentSpec]], VenueSpecs] | None = None
    subscribe: (
        Callable[[dict[str, Any], list[InstrumentSpec]], Coroutine[Any, Any, None]] | None
    ) = None
    """Add instruments to this venue's running feed (a pair added at run time):
    ``subscribe(feeds, specs)`` with the feed objects its ``feed_tasks`` put in
    ``FeedContext.feeds`` and the new instruments' specs; their market data and settled
    rates flow from then on. Call on the feed's loop. None for a venue that is history."""
    open_universe: Callable[[FeedSettings, float | None], UniverseSource] | None = None
    """The funding scanner's source (``core/venues/<name>/universe.py``): called with the
    ``[feeds]`` settings (REST host) and the account's taker fee (None = the venue's base
    tier); None for a venue that is history."""


def names() -> list[str]:
    """Every registered venue name, in registration order."""
    return list(PACKAGES)


def plugin(name: str) -> VenuePlugin:
    """The plugin of venue ``name``. Raises KeyError naming the known venues."""
    try:
        module = PACKAGES[name]
    except KeyError:
        raise KeyError(f"unknown venue {name!r}; known: {', '.join(PACKAGES)}") from None
    found: VenuePlugin = importlib.import_module(module).PLUGIN
    return found


def utc_date(ms: int) -> str:
    """``2026-09-23 04:00 UTC`` for ``ms``."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def check_tradeable(venues: list[str], now_ms: int, mode: str) -> None:
    """Refuse a paper or live run on a closed venue before anything connects. Raises
    :class:`VenueClosedError` with one line naming the venue, its closure date and
    ``--replay`` as the way to use its history."""
    for name in venues:
        p = plugin(name)
        if p.lifecycle.state(now_ms) == "closed" or p.feed_tasks is None:
            when = p.lifecycle.closed_at_ms
            date = f" on {utc_date(when)}" if when is not None else ""
            raise VenueClosedError(
                f"{p.title} closed for good{date}: --{mode} cannot trade it; "
                f"its history still plays with --replay FILE"
            )
