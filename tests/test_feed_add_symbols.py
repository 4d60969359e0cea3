"""Symbols subscribed at run time on a running feed (a pair added to the session), against
the fake venues: the request on the open connection, quotes of the new symbol, and every later
connect subscribing it too (Binance: in the combined-stream URL; Bybit: in the socket's
subscribe request); a subscription the venue refuses is logged with its text (Bybit: and taken
out again, ``SubscribeRefused``)."""

from __future__ import annotations

import asyncio

import pytest

from core.domain.events import Quote
from core.venues.binance.feed import BinanceFeed
from core.venues.bybit.feed import BybitFeed, SubscribeRefused
from tests.feed_helpers import Collect, fakes, running, until

H8 = 8 * 3_600_000


def quotes(c: Collect, venue: str, symbol: str) -> list[Quote]:
    return [q for q in c.of(Quote, venue) if q.symbol == symbol]


async def test_binance_subscribes_a_new_symbol_and_every_later_connect_names_it() -> None:
    async with fakes() as fx:
        c = Collect()
        feed = BinanceFeed(["BTCUSDT"], c.sink, c.board, fx.feeds(), interval_ms=lambda s: H8)
        async with running(feed.run()):
            await until(lambda: quotes(c, "binance", "BTCUSDT"))
            await feed.add_symbols(["ETHUSDT"])
            await until(lambda: len(fx.binance.requests) == 2)
            assert sorted((p.split("?")[0], r["params"]) for p, r in fx.binance.requests) == [
                ("/market/stream", ["ethusdt@markPrice@1s"]),
                ("/public/stream", ["ethusdt@bookTicker"]),
            ]
            await until(lambda: set(feed.acks.values()) == {None} and len(feed.acks) == 2)
            await until(lambda: quotes(c, "binance", "ETHUSDT"))
            eth = quotes(c, "binance", "ETHUSDT")
            assert {q.mark for q in eth} - {None} == {1981.1570442}  # the recorded frame
            assert c.board.venue("binance").parse_errors == 0  # the acks are not bad frames
            opened = len(fx.binance.conns)
            for conn in fx.binance.live():  # both connections lost
                if conn.ws is not None and conn.ws.transport is not None:
                    conn.ws.transport.abort()
            await until(lambda: len(fx.binance.conns) >= opened + 2, timeout_s=4)
            paths = [conn.path for conn in fx.binance.conns[opened:]]
            assert any("streams=btcusdt@markPrice@1s/ethusdt@markPrice@1s" in p for p in paths)
            assert any("streams=btcusdt@bookTicker/ethusdt@bookTicker" in p for p in paths)
            before = len(quotes(c, "binance", "ETHUSDT"))
            await until(lambda: len(quotes(c, "binance", "ETHUSDT")) > before + 2)
            assert len(fx.binance.requests) == 2  # no SUBSCRIBE needed on the new connections


async def test_bybit_subscribes_on_the_open_socket_and_takes_a_refused_topic_out() -> None:
    """A topic the venue refuses (``"success": false``, "Invalid topic: ...") makes
    ``add_symbols`` raise with the venue's text and is taken out again: not watched (the
    venue does not go stale over it once its grace is over), not asked for on the next
    connect; the socket and its other topics go on."""
    async with fakes() as fx:
        c = Collect()
        feed = BybitFeed(
            {"BTCUSDT": "linear"}, c.sink, c.board, fx.feeds(), interval_ms=lambda s: H8,
            log=c.say,
        )  # fmt: skip
        async with running(feed.run()):
            await until(lambda: quotes(c, "bybit", "BTCUSDT"))
            with pytest.raises(SubscribeRefused) as refused:
                await feed.add_symbols({"ETHUSDT": "linear"})  # the fake serves no ETHUSDT
            assert str(refused.value) == (
                "bybit refused the subscription (tickers.ETHUSDT: Invalid topic: tickers.ETHUSDT)"
            )
            assert [o["args"] for o in fx.bybit.ops if o.get("op") == "subscribe"] == [
                ["tickers.BTCUSDT"],
                ["tickers.ETHUSDT"],
            ]
            assert list(feed.sockets) == ["linear"]  # on the open socket, no new one
            assert [t for k, t in c.log if k == "alert"] == [
                "bybit linear subscribe: Invalid topic: tickers.ETHUSDT"
            ]
            assert feed.topics_of == {"linear": ["tickers.BTCUSDT"]}
            assert ("bybit", "tickers.ETHUSDT") not in c.board.streams
            assert "ETHUSDT" not in feed.state
            opened = len(fx.bybit.conns)
            await asyncio.sleep(fx.feeds().stale_after_s + 0.5)  # the grace would be over
            assert c.board.stale_venues() == set()
            assert len(fx.bybit.conns) == opened  # the socket was not replaced
            before = len(quotes(c, "bybit", "BTCUSDT"))
            await until(lambda: len(quotes(c, "bybit", "BTCUSDT")) > before)


async def test_bybit_a_socket_opened_for_a_refused_topic_alone_is_closed() -> None:
    async with fakes() as fx:
        c = Collect()
        feed = BybitFeed(
            {"BTCUSDT": "linear"}, c.sink, c.board, fx.feeds(), interval_ms=lambda s: H8,
            log=c.say,
        )  # fmt: skip
        async with running(feed.run()):
            await until(lambda: quotes(c, "bybit", "BTCUSDT"))
            with pytest.raises(SubscribeRefused, match=r"tickers\.ETHUSD: Invalid topic"):
                await feed.add_symbols({"ETHUSD": "inverse"})  # a socket of its own
            assert list(feed.sockets) == ["linear"] and "inverse" not in feed.topics_of
            assert c.board.stale_venues() == set()
