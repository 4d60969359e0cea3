"""The feed rules of core/feeds (issue 10, section 6) on the Binance feed, with real frames
(polyoxide 2026, crypto-msg-parser 2021/2022): streams not subscribed are dropped and counted
per reason, frames older than the last applied one are dropped, venue error frames are
logged with their text by time, and an oversize frame on every connection backs off. The
same rules on Bybit are in tests/test_bybit_feed.py and tests/test_bybit_live.py."""

from __future__ import annotations

import json
from typing import Any

from core.domain.config import FeedSettings
from core.domain.events import Quote
from core.feeds.health import HealthBoard, LogLimiter, VenueStats
from core.feeds.rules import StreamGate
from core.feeds.sink import EventSink
from core.venues.binance.feed import BinanceFeed
from tests.fake_exchange import frames
from tests.feed_helpers import Collect, fakes, running, until

H8 = 8 * 3_600_000


class Rig:
    def __init__(self) -> None:
        self.t = 50.0
        self.events: list[Any] = []
        self.log: list[tuple[str, str]] = []
        self.board = HealthBoard(monotonic=lambda: self.t)
        self.sink = EventSink(self.events.append, clock_ms=lambda: 1_800_000_000_000)
        self.feed = BinanceFeed(
            ["BTCUSDT"], self.sink, self.board, FeedSettings(), interval_ms=lambda s: H8,
            log=lambda k, t: self.log.append((k, t)), monotonic=lambda: self.t,
        )  # fmt: skip
        self.stats = self.board.venue("binance")

    def send(self, text: str) -> None:
        self.feed.on_frame(text.encode(), self.t)
        self.sink.flush()


def cmp(name: str) -> str:
    return frames.crypto_msg_parser("binance_ws_crypto_msg_parser_usdm.jsonl")[name]


def test_binance_streams_not_subscribed_are_dropped_and_counted_never_subscribed() -> None:
    rig = Rig()
    rig.send(cmp("bbo.linear_swap"))  # ethusdt@bookTicker
    rig.send(cmp("bbo.linear_future"))  # !bookTicker (BALUSDT)
    rig.send(cmp("funding_rate.linear_swap"))  # btcusdt@markPrice (not the @1s stream)
    assert rig.events == [] and rig.stats.parse_errors == 0
    assert rig.stats.dropped == {"unsubscribed_stream": 3}
    assert sorted(rig.feed.gate.subscribed) == ["btcusdt@bookTicker", "btcusdt@markPrice@1s"]
    assert sorted(s.url.rsplit("=", 1)[1] for s in (rig.feed.market, rig.feed.public)) == [
        "btcusdt@bookTicker", "btcusdt@markPrice@1s",
    ]  # fmt: skip


def test_binance_frame_of_another_symbol_on_a_subscribed_stream_is_dropped() -> None:
    rig = Rig()
    eth = json.loads(cmp("bbo.linear_swap"))
    eth["stream"] = "btcusdt@bookTicker"
    rig.send(json.dumps(eth))
    assert rig.events == [] and rig.stats.dropped == {"wrong_symbol": 1}


def test_binance_frames_older_than_the_last_applied_are_dropped() -> None:
    rig = Rig()
    rig.send(frames.binance_mark_price())  # E 1791382993000 (2026)
    old = json.loads(cmp("funding_rate.linear_swap"))  # E 1617308820003 (2021)
    old["stream"] = "btcusdt@markPrice@1s"
    rig.send(json.dumps(old))
    marks = [e.mark for e in rig.events if type(e) is Quote]
    assert marks == [83084.3]
    assert rig.stats.dropped == {"older_than_applied": 1}
    rig.send(frames.binance_book_ticker())  # u 11757092630476
    older_book = json.loads(frames.binance_book_ticker())
    older_book["data"]["u"] -= 1
    older_book["data"]["b"] = "1.0"
    rig.send(json.dumps(older_book))
    assert [e.bid for e in rig.events if type(e) is Quote and e.bid] == [83091.6]
    assert rig.stats.dropped == {"older_than_applied": 2}
    rig.send(frames.binance_mark_price())  # the same frame again: equal, applied
    assert len([e for e in rig.events if type(e) is Quote]) == 3


def test_binance_error_frames_are_logged_with_their_text_by_time() -> None:
    rig = Rig()
    err = '{"code": 0, "msg": "Unknown property", "id": 1}'  # Binance docs "Error Messages"
    for _ in range(5):
        rig.send(err)
    rig.send('{"error": {"code": 2, "msg": "Invalid request: unknown variant"}, "id": 3}')
    assert rig.stats.venue_errors == 6 and rig.stats.parse_errors == 0
    assert [t for k, t in rig.log if k == "alert"] == ["binance stream: code 0: Unknown property"]
    rig.t += 10.0
    rig.send(err)
    assert rig.log[-1][1] == (
        "binance stream: code 0: Unknown property "
        "(+5 more held back since the last line of this kind)"
    )


def test_log_limiter_allows_one_line_per_key_per_period() -> None:
    t = [0.0]
    lim = LogLimiter(every_s=5.0, monotonic=lambda: t[0])
    out: list[str] = []
    say = lambda k, x: out.append(x)  # noqa: E731
    assert lim.say(say, "a", "alert", "one")
    assert not lim.say(say, "a", "alert", "two")
    assert lim.say(say, "b", "alert", "other key")
    t[0] = 4.9
    assert not lim.say(say, "a", "alert", "three") and lim.held("a") == 2
    t[0] = 5.0
    assert lim.say(say, "a", "alert", "four")
    assert out == ["one", "other key", "four (+2 more held back since the last line of this kind)"]


def test_stream_gate_counts_each_reason_and_keeps_order_per_stream() -> None:
    stats = VenueStats("v")
    gate = StreamGate(stats, {"s1": "A", "s2": "B"})
    assert gate.admit("s1", "A") and not gate.admit("s1", "B") and not gate.admit("s3")
    assert gate.in_order("s1", 5) and gate.in_order("s2", 1) and gate.in_order("s1", 5)
    assert not gate.in_order("s1", 4) and gate.in_order("s1", 0)  # 0: no key sent
    assert stats.dropped == {"wrong_symbol": 1, "unsubscribed_stream": 1, "older_than_applied": 1}
    gate.reset(["s1"])
    assert gate.in_order("s1", 1) and gate.last == {"s1": 1, "s2": 1}


async def test_binance_oversize_frame_on_every_connection_backs_off_and_names_the_size() -> None:
    big = frames.capture_frames("orderBookL2", "SOLUSDT")[0]
    async with fakes() as fx:
        fx.binance.big = big
        c = Collect()
        cfg = fx.feeds(max_frame_bytes=8192, reconnect_base_s=0.5, reconnect_cap_s=8.0)
        feed = BinanceFeed(["BTCUSDT"], c.sink, c.board, cfg, interval_ms=lambda s: H8, log=c.say)
        sock = feed.public
        async with running(sock.run()):
            await until(lambda: sock.backoff.consecutive_failures >= 3, timeout_s=8)
            n = sock.backoff.consecutive_failures
            delays = [sock.backoff.next_delay_s() for _ in range(20)]
        assert min(delays) >= min(8.0, 0.5 * 2 ** (n - 1)) / 2 >= 1.0
        size = len(big.encode())
        assert any(f"a frame of {size} bytes over max_frame_bytes (8192)" in t for _, t in c.log)


def test_a_binance_estimate_beyond_the_symbols_cap_is_kept_and_flagged_once() -> None:
    rig = Rig()
    frame = json.loads(frames.binance_mark_price())
    frame["data"]["r"] = "0.0300000"  # 0.03 % written without its % sign: 10 x the 0.3 % cap
    rig.send(json.dumps(frame))
    frame["data"]["r"] = "0.0310000"
    rig.send(json.dumps(frame))
    rates = [e.rate for e in rig.events if type(e).__name__ == "FundingRate"]
    assert [str(r) for r in rates] == ["0.0300000", "0.0310000"]  # kept, as the venue sent
    alerts = [t for k, t in rig.log if k == "alert"]
    assert alerts == [
        "binance BTCUSDT: funding rate 0.0300000 is beyond its cap of +-0.003 (GET "
        "/fapi/v1/fundingInfo adjustedFundingRateCap 0.00300 / Floor -0.00300 (2026 capture); "
        "March 2020 touched the -0.30 % floor (shared data README)): check the venue's status "
        "before trading on it"
    ]  # once per period, not on every frame


def test_the_door_refuses_a_price_of_zero_or_less_and_says_why() -> None:
    """A live event with a 0 or negative price is neither applied nor recorded; the session
    is told why (it alerts once per instrument) and the refusals are counted."""
    from core.domain.events import Bar, Quote

    applied: list[object] = []
    recorded: list[object] = []
    told: list[str] = []

    class Rec:
        def write(self, ev: object) -> None:
            recorded.append(ev)

    sink = EventSink(applied.append, recorder=Rec(), on_bad=lambda ev, why: told.append(why))
    good = Quote(ts_ms=1, venue="binance", symbol="BTCUSDT", mark=83_084.3)
    sink.publish_quote(good)
    sink.publish_quote(Quote(ts_ms=2, venue="binance", symbol="BTCUSDT", mark=0.0))
    sink.publish(Quote(ts_ms=3, venue="binance", symbol="BTCUSDT", bid=-1.0))
    sink.publish(Bar(ts_ms=4, venue="bybit", symbol="BTCUSDT", open_ts_ms=0, interval_ms=60_000,
                     open=1.0, high=1.0, low=1.0, close=float("nan")))  # fmt: skip
    assert applied == recorded == [good]
    assert told == [
        "mark 0.0 is not a price > 0",
        "bid -1.0 is not a price > 0",
        "close nan is not a price > 0",
    ]
    assert sink.dropped == 3 and sink.events == 1
