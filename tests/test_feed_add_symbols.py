"""Symbols subscribed at run time on a running feed (a pair added to the session), against
the fake venues: the request on the open connection, quotes of the new symbol, and every later
connect subscribing it too (Binance: in the combined-stream URL; Bybit: in the socket's
subscribe request); a subscription the venue refuses is logged with its text."""

from __future__ import annotations

from core.domain.events import Quote
from core.venues.binance.feed import BinanceFeed
from core.venues.bybit.feed import BybitFeed
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


async def test_bybit_subscribes_on_the_open_socket_logs_a_refusal_and_resubscribes_it() -> None:
    async with fakes() as fx:
        c = Collect()
        feed = BybitFeed(
            {"BTCUSDT": "linear"}, c.sink, c.board, fx.feeds(), interval_ms=lambda s: H8,
            log=c.say,
        )  # fmt: skip
        async with running(feed.run()):
            await until(lambda: quotes(c, "bybit", "BTCUSDT"))
            await feed.add_symbols({"ETHUSDT": "linear"})  # the fake serves no ETHUSDT topic
            await until(lambda: any(o.get("args") == ["tickers.ETHUSDT"] for o in fx.bybit.ops))
            assert list(feed.sockets) == ["linear"]  # on the open socket, no new one
            await until(lambda: any("tickers.ETHUSDT" in t for k, t in c.log if k == "alert"))
            await until(lambda: "bybit" in c.board.stale_venues(), timeout_s=4)  # grace over
            # the socket is replaced (its new stream stays silent): the next connect asks
            # for both topics in its one subscribe request
            await until(
                lambda: any(
                    o.get("op") == "subscribe"
                    and o.get("args") == ["tickers.BTCUSDT", "tickers.ETHUSDT"]
                    for o in fx.bybit.ops
                ),
                timeout_s=4,
            )
