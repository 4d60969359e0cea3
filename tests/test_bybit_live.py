"""The Bybit feed and REST readers against the fake Bybit public side on 127.0.0.1: subscribe
and acks on the path of each kind, the JSON ping heartbeat, staleness and reconnect as for
Binance, a refused subscription, a partial over the frame limit after every reconnect (the
backoff grows), and funding intervals, settled rates and specs through ccxt."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import pytest

from core.domain.config import FeedSettings, parse_config
from core.domain.events import FundingRate, FundingSettled, Quote
from core.venues.bybit.feed import BybitFeed
from core.venues.bybit.funding import BybitFunding
from core.venues.bybit.specs import load_specs, make_exchange
from tests.fake_exchange import frames
from tests.fake_exchange.bybit_public import FakeBybitPublic
from tests.fake_exchange.exchanges import FAST
from tests.feed_helpers import Collect, running, until

H = 3_600_000
BOTH = {"BTCUSDT": "linear", "BTCUSD": "inverse"}


@contextlib.asynccontextmanager
async def fake(interval_s: float = 0.05) -> AsyncIterator[FakeBybitPublic]:
    fx = FakeBybitPublic(interval_s)
    await fx.start()
    try:
        yield fx
    finally:
        await fx.stop()


def feeds(fx: FakeBybitPublic, **over: Any) -> FeedSettings:
    return FeedSettings(
        bybit_ws_url=fx.url, bybit_rest_url=fx.rest_url, **{**FAST, "bybit_ping_s": 0.2, **over}
    )


def feed_of(fx: FakeBybitPublic, c: Collect, instruments: dict[str, str], **over: Any) -> Any:
    return BybitFeed(
        instruments, c.sink, c.board, feeds(fx, **over), interval_ms=lambda s: 8 * H, log=c.say
    )


async def test_each_kind_subscribes_its_tickers_on_its_own_path_and_prices_flow() -> None:
    async with fake() as fx:
        c = Collect()
        feed = feed_of(fx, c, BOTH)
        async with running(feed.run()):
            await until(lambda: not c.board.stale_venues() and len(c.of(Quote)) >= 6)
        assert sorted(conn.path for conn in fx.conns) == ["/v5/public/inverse", "/v5/public/linear"]
        subs = sorted(
            (o["args"], o["req_id"].split("-")[0]) for o in fx.ops if o["op"] == "subscribe"
        )
        assert subs == [(["tickers.BTCUSD"], "sub"), (["tickers.BTCUSDT"], "sub")]
        inv = [q for q in c.of(Quote) if q.symbol == "BTCUSD"]
        assert (inv[0].mark, inv[0].index, inv[0].bid, inv[0].ask) == (
            28560.0, 28566.94, 28560.0, 28560.5,
        )  # fmt: skip
        rates = {(e.symbol, e.rate, e.settlement_ts_ms) for e in c.of(FundingRate)}
        assert rates == {
            ("BTCUSD", Decimal("0.0001"), 1680681600000),
            ("BTCUSDT", Decimal("0.0001"), 1680681600000),
        }
        stats = c.board.venue("bybit")
        assert stats.dropped == {} and stats.parse_errors == 0 and stats.venue_errors == 0


async def test_the_heartbeat_is_a_json_ping_and_the_pong_is_counted() -> None:
    async with fake() as fx:
        c = Collect()
        feed = feed_of(fx, c, {"BTCUSD": "inverse"})
        sock = feed.sockets["inverse"]
        async with running(feed.run()):
            await until(lambda: sock.pongs >= 2, timeout_s=3)
        pings = [o for o in fx.ops if o["op"] == "ping"]
        assert pings and all(o["req_id"].startswith("ping-") for o in pings)
        assert c.board.venue("bybit").pongs_missed == 0


async def test_pings_without_pongs_replace_the_connection() -> None:
    async with fake() as fx:
        fx.answer_pings = False
        c = Collect()
        feed = feed_of(fx, c, {"BTCUSD": "inverse"})
        stats = c.board.venue("bybit")
        async with running(feed.run()):
            await until(lambda: stats.pongs_missed >= 1 and stats.reconnects >= 1, timeout_s=4)
        assert any("no pong" in t for _, t in c.log)


async def test_a_silent_bybit_server_goes_stale_and_the_socket_is_replaced() -> None:
    async with fake() as fx:
        c = Collect()
        feed = feed_of(fx, c, {"BTCUSDT": "linear"})
        stats = c.board.venue("bybit")
        async with running(feed.run()):
            await until(lambda: not c.board.stale_venues())
            fx.silent = True
            await until(lambda: "bybit" in c.board.stale_venues(), timeout_s=2)
            await until(lambda: stats.reconnects >= 1, timeout_s=4)
            fx.silent = False
            await until(lambda: not c.board.stale_venues(), timeout_s=4)
        assert stats.stale_events >= 1
        assert len([o for o in fx.ops if o["op"] == "subscribe"]) >= 2  # subscribed again


async def test_a_refused_topic_is_logged_with_the_venues_text_and_subscribes_nothing_new() -> None:
    async with fake() as fx:
        c = Collect()
        feed = feed_of(fx, c, {"BTCUSDT": "linear", "ETHUSDT": "linear"})
        stats = c.board.venue("bybit")
        async with running(feed.run()):
            await until(lambda: stats.venue_errors >= 1 and len(c.of(Quote)) >= 2)
            fx.push(frames.compact({"topic": "tickers.SOLUSDT", "type": "snapshot", "ts": 1,
                                    "data": {"symbol": "SOLUSDT", "markPrice": "1"}}))  # fmt: skip
            await until(lambda: stats.dropped.get("unsubscribed_stream") == 1)
        assert any(k == "alert" and "Invalid topic: tickers.ETHUSDT" in t for k, t in c.log), c.log
        subs = [o["args"] for o in fx.ops if o["op"] == "subscribe"]
        assert subs == [["tickers.BTCUSDT", "tickers.ETHUSDT"]]
        assert {q.symbol for q in c.of(Quote)} == {"BTCUSDT"}


async def test_a_refused_topic_keeps_the_venue_stale_and_its_reconnects_back_off() -> None:
    async with fake() as fx:
        c = Collect()
        feed = feed_of(fx, c, {"BTCUSDT": "linear", "ETHUSDT": "linear"})
        sock = feed.sockets["linear"]
        async with running(feed.run()):
            # data and acks flow, but tickers.ETHUSDT never does: no connection is working
            await until(lambda: sock.backoff.consecutive_failures >= 2, timeout_s=6)
            assert "bybit" in c.board.stale_venues()
        subs = [o["args"] for o in fx.ops if o["op"] == "subscribe"]
        assert len(subs) == sock.connections >= 2  # one subscribe per connection, the same
        assert all(s == ["tickers.BTCUSDT", "tickers.ETHUSDT"] for s in subs)


async def test_an_oversize_partial_after_every_reconnect_backs_off_exponentially() -> None:
    big = frames.capture_frames("orderBookL2", "SOLUSDT")[0]  # a real 2021 partial, > 8 KiB
    async with fake() as fx:
        fx.big = big  # sent after every subscribe ack: each connection dies right after it
        c = Collect()
        feed = feed_of(fx, c, {"BTCUSD": "inverse"}, max_frame_bytes=8192,
                       reconnect_base_s=0.5, reconnect_cap_s=8.0)  # fmt: skip
        sock = feed.sockets["inverse"]
        async with running(feed.run()):
            # each connection delivered a frame (the ack) before it died: without the rule the
            # count went back to 0 every time and the socket reconnected once a second forever
            await until(lambda: sock.backoff.consecutive_failures >= 3, timeout_s=8)
            n = sock.backoff.consecutive_failures
            delays = [sock.backoff.next_delay_s() for _ in range(20)]
        assert min(delays) >= min(8.0, 0.5 * 2 ** (n - 1)) / 2 >= 1.0  # grown, as for a refusal
        stats = c.board.venue("bybit")
        assert stats.oversize_frames >= 2 and stats.failed_attempts >= 2
        size = len(big.encode())
        assert any(f"a frame of {size} bytes over max_frame_bytes (8192)" in t for _, t in c.log), (
            c.log
        )


# ---------------------------------------------------------------------- REST through ccxt
async def test_funding_intervals_in_minutes_and_settled_rates_through_ccxt() -> None:
    async with fake() as fx:
        fx.interval_minutes = {"BTCUSD": 240}
        c = Collect()
        cfg = feeds(fx)
        funding = BybitFunding(
            BOTH, c.sink, c.board.venue("bybit"), cfg,
            lambda: make_exchange(cfg, asynchronous=True), log=c.say,
        )  # fmt: skip
        client = make_exchange(cfg, asynchronous=True)
        try:
            await funding.refresh_intervals(client)
            assert funding.intervals == {"BTCUSDT": 8 * H, "BTCUSD": 4 * H}
            assert funding.caps["BTCUSDT"] == (Decimal("-0.00375"), Decimal("0.00375"))
            assert funding.status == {"BTCUSDT": "Trading", "BTCUSD": "Trading"}
            assert not any("status" in text for _, text in c.log)
            assert await funding.poll_settled(client) == []  # first read: history only
            assert funding.baseline == {"BTCUSDT": 1709308800000, "BTCUSD": 1709308800000}
            fx.funding_rows = 4
            new = await funding.poll_settled(client)
            fx.status = {"BTCUSD": "Closed"}
            await funding.refresh_intervals(client)
            await funding.refresh_intervals(client)  # said once, not on every read
        finally:
            await client.close()
        assert [(e.symbol, e.rate, e.settlement_ts_ms, e.interval_ms) for e in new] == [
            ("BTCUSDT", Decimal("0.00013237"), 1709337600000, 8 * H),
            ("BTCUSD", Decimal("0.0001"), 1709337600000, 4 * H),
        ]
        assert all(e.raw_rate in ("0.00013237", "0.0001") for e in new)
        assert [t for _, t in c.log if "status" in t] == [
            "bybit BTCUSD: instrument status 'Closed'"
        ]
        c.sink.flush()
        assert len(c.of(FundingSettled)) == 2
        history = [r for r in fx.requests if r.startswith("/v5/market/funding/history")]
        assert history and all("endTime=" in r for r in history)


async def test_start_time_alone_is_refused_by_the_fake_as_by_bybit() -> None:
    async with fake() as fx:
        client = make_exchange(feeds(fx), asynchronous=True)
        try:
            with pytest.raises(ccxt_async.BadRequest):
                await client.public_get_v5_market_funding_history(
                    {"category": "linear", "symbol": "BTCUSDT", "startTime": 1709251200000}
                )
        finally:
            await client.close()


async def test_the_funding_poller_publishes_a_new_settlement_once_while_running() -> None:
    async with fake() as fx:
        c = Collect()
        cfg = feeds(fx, funding_rate_poll_s=0.1, funding_info_refresh_s=0.2)
        funding = BybitFunding(
            {"BTCUSDT": "linear"}, c.sink, c.board.venue("bybit"), cfg,
            lambda: make_exchange(cfg, asynchronous=True),
        )  # fmt: skip
        async with running(funding.run()):
            await until(lambda: funding.polls >= 1 and funding.info_reads >= 1, timeout_s=5)
            fx.funding_rows = 5
            await until(lambda: len(c.of(FundingSettled)) == 2, timeout_s=5)
            polls = funding.polls
            await until(lambda: funding.polls >= polls + 2, timeout_s=5)
        assert [e.rate for e in c.of(FundingSettled)] == [Decimal("0.00013237"),
                                                          Decimal("0.00023839")]  # fmt: skip


SPECS_TOML = """
[capital.bybit]
USDT = 1
[instruments.a]
venue = "bybit"
symbol = "BTCUSDT"
kind = "linear"
contract_size = "1"
tick = "1"
lot = "1"
[instruments.b]
venue = "bybit"
symbol = "BTCUSD"
kind = "inverse"
contract_size = "1"
tick = "1"
lot = "1"
settle_currency = "BTC"
quote = "USD"
[instruments.c]
venue = "binance"
symbol = "BTCUSDT"
kind = "linear"
contract_size = "1"
tick = "1"
lot = "1"
[[pairs]]
name = "x"
leg_a = "c"
leg_b = "a"
"""


async def test_specs_come_from_instruments_info() -> None:
    async with fake() as fx:
        base = parse_config(SPECS_TOML)
        import msgspec

        settings = msgspec.structs.replace(base, feeds=feeds(fx))
        specs = [base.instruments["a"], base.instruments["b"]]
        got = await asyncio.to_thread(load_specs, settings, specs)
    by = {s.symbol: s for s in got.specs}
    assert got.not_trading == {}  # both "Trading"
    lin, inv = by["BTCUSDT"], by["BTCUSD"]
    assert (lin.tick, lin.lot, lin.min_qty, lin.min_notional) == (
        Decimal("0.1"), Decimal("0.001"), Decimal("0.001"), Decimal(5),
    )  # fmt: skip
    assert (lin.settle_currency, lin.quote, lin.kind) == ("USDT", "USDT", "linear")
    assert (inv.tick, inv.lot, inv.min_qty, inv.min_notional) == (
        Decimal("0.5"), Decimal(1), Decimal(1), Decimal(0),
    )  # fmt: skip
    assert (inv.settle_currency, inv.quote, inv.kind, inv.contract_size) == (
        "BTC", "USD", "inverse", Decimal(1),
    )  # fmt: skip


def test_ccxt_is_pointed_at_the_fake_only_through_its_api_urls() -> None:
    ex = make_exchange(FeedSettings(bybit_rest_url="http://127.0.0.1:9"))
    assert all(
        u.startswith("http://127.0.0.1:9") for u in ex.urls["api"].values() if isinstance(u, str)
    )
    real = make_exchange(FeedSettings())
    assert real.urls["api"] == ccxt.bybit().urls["api"]


async def test_the_plugin_runs_feed_and_funding_for_linear_and_inverse_from_the_config() -> None:
    import msgspec

    from core.venues.registry import FeedContext, plugin

    p = plugin("bybit")
    assert (p.name, p.title, p.lifecycle.state(1_800_000_000_000)) == (
        "bybit",
        "Bybit (v5)",
        "live",
    )
    assert p.load_specs is load_specs and p.feed_tasks is not None
    async with fake() as fx:
        settings = msgspec.structs.replace(parse_config(SPECS_TOML), feeds=feeds(fx))
        c = Collect()
        ctx = FeedContext(["BTCUSDT", "BTCUSD"], c.sink, c.board, settings, c.say)
        async with running(*p.feed_tasks(ctx)):
            funding = ctx.feeds["bybit_funding"]
            await until(lambda: funding.intervals.keys() == {"BTCUSDT", "BTCUSD"}, timeout_s=5)
            await until(lambda: {q.symbol for q in c.of(Quote)} == {"BTCUSDT", "BTCUSD"})
            await until(lambda: funding.baseline.keys() == {"BTCUSDT", "BTCUSD"}, timeout_s=5)
        feed = ctx.feeds["bybit"]
        assert {k: s.url for k, s in feed.sockets.items()} == {
            "linear": f"{fx.url}/v5/public/linear",
            "inverse": f"{fx.url}/v5/public/inverse",
        }
        assert funding.next_settlement_ms is feed.next_settlement_ms
        assert {e.symbol for e in c.of(FundingRate)} == {"BTCUSDT", "BTCUSD"}
        assert all(e.interval_ms == 8 * H for e in c.of(FundingRate))


def test_the_default_heartbeat_is_twenty_seconds_on_bybits_hosts() -> None:
    f = FeedSettings()
    assert (f.bybit_ping_s, f.bybit_ws_url, f.bybit_rest_url) == (
        20.0, "wss://stream.bybit.com", "https://api.bybit.com",
    )  # fmt: skip


async def test_orderbook_1_over_the_fake_gives_bid_and_ask_and_keeps_the_sequence_rising() -> None:
    async with fake(interval_s=0.02) as fx:
        c = Collect()
        feed = BybitFeed(
            {"BTCUSDT": "linear"}, c.sink, c.board, feeds(fx), interval_ms=lambda s: 8 * H,
            book=True,
        )  # fmt: skip
        async with running(feed.run()):
            await until(lambda: feed.gate.last.get("orderbook.1.BTCUSDT", 0) > 7003310)
        subs = [o["args"] for o in fx.ops if o["op"] == "subscribe"]
        assert subs == [["tickers.BTCUSDT", "orderbook.1.BTCUSDT"]]
        book = [q for q in c.of(Quote) if q.mark is None]
        assert book and all((q.bid, q.ask) == (28552.0, 28552.1) for q in book)
        assert c.board.venue("bybit").dropped == {}
