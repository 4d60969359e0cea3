"""Binance USD-M as a registered venue (see :mod:`core.venues.registry`): public feed, funding
over REST, instrument specs, live execution.

Specs: ccxt ``binanceusdm.fetch_markets`` (``GET /fapi/v1/exchangeInfo``: PRICE_FILTER
tickSize, LOT_SIZE stepSize/minQty, MIN_NOTIONAL notional; fees from ccxt's market).
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import msgspec

from core.domain.config import FeedSettings, Settings
from core.domain.events import InstrumentSpec
from core.venues.instruments import dec as _dec
from core.venues.instruments import point_at
from core.venues.registry import ExecContext, FeedContext, Lifecycle, VenuePlugin, VenueSpecs

NAME = "binance"
DEFAULT_REST = "https://fapi.binance.com"


def make_exchange(feeds: FeedSettings, *, asynchronous: bool = False) -> Any:
    """A ccxt ``binanceusdm`` client at the configured REST host (public endpoints only),
    with ``rest_timeout_s`` as its timeout."""
    if asynchronous:
        import ccxt.async_support as ccxt_mod
    else:
        import ccxt as ccxt_mod
    ex = ccxt_mod.binanceusdm(
        {"timeout": int(feeds.rest_timeout_s * 1000), "enableRateLimit": True}
    )
    point_at(ex, feeds.binance_rest_url, DEFAULT_REST)
    return ex


def spec_from_binance(market: dict[str, Any], fallback: InstrumentSpec) -> InstrumentSpec:
    """An :class:`InstrumentSpec` from a ccxt binanceusdm market. Raises ValueError naming
    the missing field."""
    if not market.get("linear"):
        raise ValueError(f"{market.get('id')} is not a linear contract")
    limits = market.get("limits") or {}
    return msgspec.structs.replace(
        fallback,
        kind="linear",
        contract_size=_dec(market.get("contractSize") or 1, "contractSize"),
        tick=_dec(market["precision"]["price"], "precision.price"),
        lot=_dec(market["precision"]["amount"], "precision.amount"),
        min_qty=_dec((limits.get("amount") or {}).get("min") or 0, "limits.amount.min"),
        min_notional=_dec((limits.get("cost") or {}).get("min") or 0, "limits.cost.min"),
        maker_fee=_dec(market.get("maker"), "maker"),
        taker_fee=_dec(market.get("taker"), "taker"),
        settle_currency=str(market.get("settle") or fallback.settle_currency),
        quote=str(market.get("quote") or fallback.quote),
    )


def load_specs(settings: Settings, specs: list[InstrumentSpec]) -> VenueSpecs:
    """``specs`` refreshed from ``exchangeInfo`` (those the venue lists), and those whose
    ``status`` is not ``TRADING`` (``PENDING_TRADING``, ``SETTLING``, ``CLOSE``, ...: Binance
    USD-M "Exchange Information", symbols[].status). Blocking; raises on a network or shape
    error (the caller falls back to the config)."""
    markets = {m.get("id"): m for m in make_exchange(settings.feeds).fetch_markets()}
    listed = [s for s in specs if s.symbol in markets]
    status = {s.symbol: str((markets[s.symbol].get("info") or {}).get("status")) for s in listed}
    return VenueSpecs(
        [spec_from_binance(markets[s.symbol], s) for s in listed],
        {sym: f"status {st} (exchangeInfo)" for sym, st in status.items() if st != "TRADING"},
    )


def feed_tasks(ctx: FeedContext) -> list[Coroutine[Any, Any, None]]:
    """The public feed (markPrice, bookTicker) and the funding REST pollers of ``ctx.symbols``."""
    from core.venues.binance.feed import BinanceFeed
    from core.venues.binance.funding import BinanceFunding

    cfg = ctx.settings.feeds
    funding = BinanceFunding(
        ctx.symbols,
        ctx.sink,
        ctx.board.venue(NAME),
        cfg,
        lambda: make_exchange(cfg, asynchronous=True),
        log=ctx.log,
    )
    feed = BinanceFeed(
        ctx.symbols, ctx.sink, ctx.board, cfg, interval_ms=funding.interval_ms, log=ctx.log
    )
    funding.next_settlement_ms = feed.next_settlement_ms
    ctx.feeds[NAME], ctx.feeds[f"{NAME}_funding"] = feed, funding
    return [feed.run(), funding.run()]


async def subscribe(feeds: dict[str, Any], specs: list[InstrumentSpec]) -> None:
    """Add ``specs``' symbols to the running feed (``SUBSCRIBE`` on both sockets) and to
    the funding pollers (fundingInfo and fundingRate read at once)."""
    symbols = [s.symbol for s in specs if s.venue == NAME]
    feeds[f"{NAME}_funding"].add_symbols(symbols)
    await feeds[NAME].add_symbols(symbols)


def make_venue(ctx: ExecContext) -> Any:
    """The live execution client (ccxt ``binanceusdm``; keys from ``ARBTUI_BINANCE_*``)."""
    from core.venues.binance.execution import BinanceVenue

    v = ctx.settings.venues
    return BinanceVenue(
        v.binance,
        ctx.specs,
        ctx.book,
        ctx.limiter,
        request_timeout_ms=v.request_timeout_ms,
        user_stream=ctx.user_stream,
    )


def open_universe(feeds: FeedSettings, taker_fee: float | None = None) -> Any:
    """The funding scanner's source (:mod:`core.venues.binance.universe`, imported on use)."""
    from core.venues.binance.universe import BinanceUniverse

    return BinanceUniverse(feeds, taker_fee)


PLUGIN = VenuePlugin(
    name=NAME,
    title="Binance USD-M",
    lifecycle=Lifecycle(),
    feed_tasks=feed_tasks,
    make_venue=make_venue,
    load_specs=load_specs,
    subscribe=subscribe,
    open_universe=open_universe,
)
