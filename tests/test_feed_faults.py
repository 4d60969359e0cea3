"""Fault cases of HAZARDS H12/H13 against the fake venues on 127.0.0.1: sockets that look
alive, table order, unknown ids, oversize frames, the planned 24 h rotation, refused
handshakes, and a second symbol on the same socket."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

import msgspec

from core.domain.events import FundingRate, FundingSettled, Quote
from core.feeds.backoff import Backoff
from core.feeds.health import build_feed_views
from core.feeds.socket import ManagedSocket
from core.venues.binance.feed import BinanceFeed
from core.venues.bitmex.feed import BitmexFeed
from tests.fake_exchange import frames
from tests.feed_helpers import Collect, fakes, running, until

H8 = 8 * 3_600_000


async def test_a_silent_binance_server_goes_stale_and_the_socket_is_replaced() -> None:
    async with fakes() as fx:
        c = Collect()
        feed = BinanceFeed(["BTCUSDT"], c.sink, c.board, fx.feeds(), interval_ms=lambda s: H8)
        async with running(feed.run()):
            await until(lambda: not c.board.stale_venues())
            fx.binance.silent = True
            await until(lambda: "binance" in c.board.stale_venues(), timeout_s=2)
            await until(lambda: c.board.venue("binance").reconnects >= 2, timeout_s=4)
            assert len(fx.binance.conns) >= 4  # both sockets were opened again
            fx.binance.silent = False
            await until(lambda: not c.board.stale_venues(), timeout_s=4)
        assert c.board.venue("binance").stale_events >= 2


async def test_a_bitmex_server_that_answers_pings_but_sends_no_data_is_stale_and_replaced() -> None:
    async with fakes() as fx:
        c = Collect()
        feed = BitmexFeed(["XBTUSD"], c.sink, c.board, fx.feeds(), log=c.say)
        stats = c.board.venue("bitmex")
        async with running(feed.run()):
            await until(lambda: not c.board.stale_venues())
            fx.bitmex.silent = True
            await until(lambda: "bitmex" in c.board.stale_venues(), timeout_s=2)
            await until(lambda: stats.reconnects >= 1, timeout_s=4)
            assert fx.bitmex.pings >= 1 and stats.pongs_missed == 0  # the pongs came back
            assert "silent" in stats.last_error
            fx.bitmex.silent = False
            await until(lambda: not c.board.stale_venues(), timeout_s=4)


async def test_a_bitmex_peer_that_vanishes_without_a_close_is_dropped_after_a_missed_pong() -> None:
    async with fakes() as fx:
        c = Collect()
        feed = BitmexFeed(["XBTUSD"], c.sink, c.board, fx.feeds(), log=c.say)
        stats = c.board.venue("bitmex")
        async with running(feed.run()):
            await until(lambda: not c.board.stale_venues())
            fx.bitmex.vanish = True
            await until(lambda: stats.pongs_missed >= 1, timeout_s=3)
            assert "bitmex" in c.board.stale_venues()
            fx.bitmex.vanish = False
            await until(lambda: stats.reconnects >= 1 and not c.board.stale_venues(), timeout_s=4)
        assert any("no pong" in text for _, text in c.log)


async def test_an_update_before_the_partial_is_dropped_and_counted() -> None:
    async with fakes() as fx:
        fx.bitmex.early_update = True
        c = Collect()
        feed = BitmexFeed(["XBTUSD"], c.sink, c.board, fx.feeds())
        async with running(feed.run()):
            await until(lambda: feed.store.ready("instrument", "XBTUSD"))
            await until(lambda: len(c.of(Quote, "bitmex")) >= 3)
        assert c.board.venue("bitmex").early_updates == 1
        assert c.board.venue("bitmex").resubscribes == 0


async def test_an_update_for_an_unknown_id_resubscribes_that_table_and_is_counted() -> None:
    sol = frames.capture_frames("orderBookL2", "SOLUSDT")
    lost = next(i for i, t in enumerate(sol) if '"id":54899972551' in t and "insert" in t)
    async with fakes(interval_s=0.01) as fx:
        fx.bitmex.book_skip = {lost - 1}  # the insert of id 54899972551 never arrives
        c = Collect()
        feed = BitmexFeed(
            ["SOLUSDT"], c.sink, c.board, fx.feeds(), log=c.say, tables=("quote", "orderBookL2")
        )
        stats = c.board.venue("bitmex")
        async with running(feed.run()):
            await until(lambda: stats.resubscribes == 1, timeout_s=5)
            await until(lambda: feed.store.ready("orderBookL2", "SOLUSDT"), timeout_s=3)
        assert stats.unknown_ids == 1
        ops = [(o["op"], o["args"]) for o in fx.bitmex.ops]
        assert ops[-2:] == [
            ("unsubscribe", ["orderBookL2:SOLUSDT"]),
            ("subscribe", ["orderBookL2:SOLUSDT"]),
        ]
        assert feed.store.ready("quote", "SOLUSDT")  # the other table was left alone


async def test_a_frame_over_the_size_limit_drops_the_socket_which_comes_back() -> None:
    big = frames.capture_frames("orderBookL2", "SOLUSDT")[0]
    assert len(big) > 8192
    async with fakes() as fx:
        c = Collect()
        feed = BitmexFeed(["XBTUSD"], c.sink, c.board, fx.feeds(max_frame_bytes=8192), log=c.say)
        stats = c.board.venue("bitmex")
        async with running(feed.run()):
            await until(lambda: not c.board.stale_venues())
            fx.bitmex.push(big)
            await until(lambda: stats.oversize_frames == 1, timeout_s=2)
            await until(lambda: stats.reconnects == 1 and not c.board.stale_venues(), timeout_s=4)
        assert "max_frame_bytes (8192)" in stats.last_error


async def test_the_planned_binance_reconnect_replaces_the_socket_without_a_gap() -> None:
    async with fakes(interval_s=0.02) as fx:
        c = Collect()
        cfg = fx.feeds(binance_rotate_after_s=1.2)
        feed = BinanceFeed(["BTCUSDT"], c.sink, c.board, cfg, interval_ms=lambda s: H8, log=c.say)
        stale_seen = []
        async with running(feed.run()):
            await until(lambda: not c.board.stale_venues())
            t0 = asyncio.get_running_loop().time()
            while feed.market.stats.rotations < 2 and asyncio.get_running_loop().time() - t0 < 5:
                stale_seen.append(bool(c.board.stale_venues()))
                await asyncio.sleep(0.02)
            # the replaced socket was closed by us, cleanly (its close handshake may still be
            # under way on a loaded machine)
            await until(lambda: any(conn.close_code == 1000 for conn in fx.binance.conns), 5.0)
        stats = c.board.venue("binance")
        assert stats.rotations >= 2 and stats.reconnects == 0 and stats.failed_attempts == 0
        assert not any(stale_seen)
        marks = [e.ts_ms for e in c.of(Quote) if e.mark is not None]
        gaps = [b - a for a, b in itertools.pairwise(marks)]
        assert max(gaps) < 300  # frames every 20 ms; a reconnect with a gap would show here


async def test_twenty_refused_handshakes_back_off_capped_and_never_faster_than_one_a_second() -> (
    None
):
    clock = [0.0]
    slept: list[float] = []

    async def sleep(d: float) -> None:
        slept.append(d)
        clock[0] += d
        await asyncio.sleep(0)

    backoff = Backoff(0.25, 4.0, sleep=sleep, monotonic=lambda: clock[0])
    async with fakes() as fx:
        fx.binance.refuse = 20
        c = Collect()
        cfg = fx.feeds(reconnect_base_s=0.25, reconnect_cap_s=4.0)
        feed = BinanceFeed(["BTCUSDT"], c.sink, c.board, cfg, interval_ms=lambda s: H8, log=c.say)
        sock: ManagedSocket = feed.market
        sock.backoff = backoff
        async with running(sock.run()):
            await until(lambda: len(c.of(Quote)) > 0, timeout_s=5)
            # reset once the connection stayed up stable_after_s (= stale_after_s) with data
            await until(lambda: backoff.consecutive_failures == 0, timeout_s=3)
        assert fx.binance.refused == 20 and len(fx.binance.handshake_times) == 21
        assert backoff.failures == 20 and c.board.venue("binance").failed_attempts == 20
        assert len(slept) == 20 and all(1.0 <= d <= 4.0 for d in slept)
        assert max(slept) > 3.0  # the delay grew to the cap's range
        alerts = [t for k, t in c.log if k == "alert"]
        assert len(alerts) == 5  # said at 1, 2, 4, 8 and 16 in a row, not 20 times


async def test_a_second_symbol_on_the_same_socket_leaves_the_first_symbols_tables_alone() -> None:
    async with fakes() as fx:
        c = Collect()
        feed = BitmexFeed(["XBTUSD"], c.sink, c.board, fx.feeds())
        async with running(feed.run()):
            await until(lambda: feed.store.ready("quote", "XBTUSD"))
            await until(lambda: feed.store.ready("instrument", "XBTUSD"))
            inst = feed.store.get("instrument", "XBTUSD")
            before = {k: dict(v) for k, v in inst.rows.items()}
            await feed.subscribe("SOLUSDT")
            await until(lambda: feed.store.ready("instrument", "SOLUSDT"))
            await until(lambda: feed.store.ready("quote", "SOLUSDT"))
            assert feed.store.ready("quote", "XBTUSD") and feed.store.ready("instrument", "XBTUSD")
            assert feed.store.get("instrument", "XBTUSD").rows == before
        subs = [o["args"] for o in fx.bitmex.ops if o["op"] == "subscribe"]
        assert subs == [
            ["instrument:XBTUSD", "quote:XBTUSD", "funding:XBTUSD"],
            ["instrument:SOLUSDT", "quote:SOLUSDT", "funding:SOLUSDT"],
        ]
        assert c.board.venue("bitmex").resubscribes == 0
        sol = [e for e in c.of(Quote, "bitmex") if e.symbol == "SOLUSDT" and e.mark is not None]
        assert sol and sol[0].mark == next(
            r["markPrice"] for r in frames.bitmex_instruments() if r["symbol"] == "SOLUSDT"
        )


async def test_bitmex_publishes_a_new_settlement_once_and_never_the_historical_one() -> None:
    async with fakes() as fx:
        c = Collect()
        feed = BitmexFeed(["XBTUSD"], c.sink, c.board, fx.feeds())
        async with running(feed.run()):
            await until(lambda: feed.store.ready("funding", "XBTUSD"))
            await until(lambda: len(c.of(FundingRate)) == 2)
            assert c.of(FundingSettled) == []  # the partial's 2021-04-01 row is history
            fx.bitmex.push(frames.bitmex_funding_insert())
            fx.bitmex.push(frames.bitmex_funding_insert())  # sent twice: published once
            await until(lambda: len(c.of(FundingSettled)) == 1)
            await asyncio.sleep(0.15)
        settled = c.of(FundingSettled)
        assert len(settled) == 1
        assert settled[0].rate == Decimal("0.0001") and settled[0].interval_ms == H8
        assert settled[0].raw_ts == "2024-11-25T04:00:00.000Z"
        fixed = [e for e in c.of(FundingRate) if e.fixed]
        est = [e for e in c.of(FundingRate) if not e.fixed]
        assert fixed[0].rate == est[0].rate == Decimal("0.0001")
        assert est[0].settlement_ts_ms - fixed[0].settlement_ts_ms == H8


async def test_h22_a_subscription_that_never_delivers_is_a_fault_not_connected() -> None:
    """A stream on a path that accepts the subscription and then sends nothing (HAZARDS
    H22): stale once the window passes, never listed as live, and each such connection is a
    failed attempt (the backoff grows) with the silence named in the log."""
    async with fakes() as fx:
        fx.binance.silent = True  # accepts every subscription, delivers nothing
        c = Collect()
        feed = BinanceFeed(
            ["BTCUSDT"], c.sink, c.board, fx.feeds(), interval_ms=lambda s: H8, log=c.say
        )
        sock: ManagedSocket = feed.market
        async with running(feed.run()):
            await until(lambda: "binance" in c.board.stale_venues(), timeout_s=3)
            await until(lambda: sock.connections >= 2, timeout_s=6)  # connected again
            views = build_feed_views(c.board)
        assert c.board.venue("binance").failed_attempts >= 2  # each a failure: backoff grows
        assert [v for v in views if v.venue == "binance" and v.state == "live"] == []
        assert c.board.venue("binance").stale_events >= 1
        assert not c.of(Quote)
        said = [t for k, t in c.log if k == "alert" and "silent" in t]
        assert said[0].startswith(
            "binance market: connection ended before any data: btcusdt@markPrice@1s silent for"
        )


async def test_a_connection_that_fails_names_the_host_it_dialled() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nobody listens there now
    async with fakes() as fx:
        c = Collect()
        cfg = msgspec.structs.replace(fx.feeds(), binance_ws_url=f"ws://127.0.0.1:{port}")
        feed = BinanceFeed(["BTCUSDT"], c.sink, c.board, cfg, interval_ms=lambda s: H8, log=c.say)
        async with running(feed.market.run()):
            await until(lambda: c.board.venue("binance").failed_attempts >= 1, timeout_s=5)
        assert c.board.venue("binance").last_error.startswith(
            f"connect to 127.0.0.1:{port} failed: "
        )
        said = [t for k, t in c.log if k == "alert"]
        assert said[0].startswith(f"binance market: connect to 127.0.0.1:{port} failed: ")
