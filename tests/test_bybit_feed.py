"""The Bybit v5 public feed on real frames (tardis-node 2023 captures, Bybit docs examples):
ticker snapshot + delta merging, empty-string fields, the funding interval in hours (ticker)
or minutes (instruments-info), level-1 book deltas, and the feed rules (subscribed topics
only, nothing older than the last applied frame, venue errors logged with their text, by
time). Frames are handed to the feed directly; the sockets are not run here."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from core.domain.config import FeedSettings
from core.domain.events import FundingRate, Quote
from core.feeds.health import HealthBoard, count_bad_frame
from core.feeds.sink import EventSink
from core.venues.bybit import wire
from core.venues.bybit.feed import BybitFeed, ws_url
from core.venues.bybit.specs import parse_instruments
from tests.fake_exchange import bybit_public as data

H = 3_600_000
T_2023 = 1680681600000  # nextFundingTime of the 2023-04-05 frames (08:00 UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Rig:
    """A Bybit feed whose frames are handed in by the test, with a settable clock."""

    def __init__(
        self,
        instruments: dict[str, str],
        interval_ms: Any = lambda s: None,
        book: bool = False,
    ) -> None:
        self.events: list[Any] = []
        self.log: list[tuple[str, str]] = []
        self.clock = Clock()
        self.board = HealthBoard(monotonic=self.clock)
        self.sink = EventSink(self.events.append, clock_ms=lambda: 1_700_000_000_000)
        self.feed = BybitFeed(
            instruments,
            self.sink,
            self.board,
            FeedSettings(),
            interval_ms=interval_ms,
            log=lambda k, t: self.log.append((k, t)),
            monotonic=self.clock,
            book=book,
        )
        self.stats = self.board.venue("bybit")

    def send(self, text: str | dict[str, Any], kind: str = "linear") -> None:
        raw = text if isinstance(text, str) else json.dumps(text)
        self.feed.on_frame(raw.encode(), self.clock(), kind)
        self.sink.flush()

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if type(e) is kind]


def frame(topic: str, i: int = 0) -> str:
    return data.tardis_topic(topic)[i]


def test_inverse_ticker_snapshot_then_delta_merges_and_keeps_the_unsent_fields() -> None:
    rig = Rig({"BTCUSD": "inverse"}, interval_ms=lambda s: 8 * H)
    rig.send(frame("tickers.BTCUSD", 0), "inverse")
    q = rig.of(Quote)[-1]
    assert (q.venue, q.symbol, q.mark, q.index, q.bid, q.ask) == (
        "bybit", "BTCUSD", 28560.0, 28566.94, 28560.0, 28560.5,
    )  # fmt: skip
    (fr,) = rig.of(FundingRate)
    assert fr.rate == Decimal("0.0001") and not fr.fixed
    assert fr.settlement_ts_ms == T_2023 and fr.interval_ms == 8 * H

    rig.send(frame("tickers.BTCUSD", 1), "inverse")  # carries no markPrice/indexPrice
    q = rig.of(Quote)[-1]
    assert (q.mark, q.index, q.bid, q.ask) == (28560.0, 28566.94, 28560.0, 28560.5)
    st = rig.feed.state["BTCUSD"]
    assert (st.mark, st.index, st.rate, st.next_funding) == (28560.0, 28566.94, "0.0001", T_2023)
    assert (st.seq, st.ts) == (20856433603, 1680673822776)
    assert len(rig.of(FundingRate)) == 1  # the delta resent the same rate: nothing new
    assert rig.feed.next_settlement_ms == {"BTCUSD": T_2023}
    assert rig.stats.parse_errors == 0 and rig.stats.dropped == {}


def test_a_delta_overwrites_only_its_fields() -> None:
    rig = Rig({"BTCUSD": "inverse"}, interval_ms=lambda s: 8 * H)
    rig.send(frame("tickers.BTCUSD", 0), "inverse")
    delta = json.loads(frame("tickers.BTCUSD", 1))
    delta["data"].update(markPrice="28570.50", fundingRate="0.00012")
    delta["cs"] += 1
    rig.send(delta, "inverse")
    q = rig.of(Quote)[-1]
    assert (q.mark, q.index, q.bid, q.ask) == (28570.5, 28566.94, 28560.0, 28560.5)
    assert [e.rate for e in rig.of(FundingRate)] == [Decimal("0.0001"), Decimal("0.00012")]


def test_linear_ticker_snapshot_gives_mark_index_bid_ask() -> None:
    rig = Rig({"BTCUSDT": "linear"}, interval_ms=lambda s: 8 * H)
    rig.send(frame("tickers.BTCUSDT"))
    (q,) = rig.of(Quote)
    assert (q.mark, q.index, q.bid, q.ask) == (28552.81, 28562.25, 28550.7, 28550.8)
    assert rig.of(FundingRate)[0].settlement_ts_ms == T_2023


def test_interval_comes_from_the_tickers_hours_before_the_rest_minutes() -> None:
    rig = Rig({"BTCUSDT": "linear"}, interval_ms=lambda s: 4 * H)  # REST would say 4 h
    rig.send(data.docs_ticker("linear_perpetual"))  # fundingIntervalHour "8", fundingCap
    (fr,) = rig.of(FundingRate)
    assert fr.interval_ms == 8 * H
    assert fr.rate == Decimal("-0.005") and fr.settlement_ts_ms == 1760342400000
    assert rig.feed.caps == {"BTCUSDT": Decimal("0.005")}
    (q,) = rig.of(Quote)
    assert (q.mark, q.index, q.bid, q.ask) == (66666.6, 115418.19, 66666.6, 66666.7)


def test_without_an_interval_hour_the_rest_interval_in_minutes_is_used() -> None:
    body = data.load("rest_docs_instruments_info_linear_BTCUSDT.json")
    (info,) = parse_instruments(body, "linear")[0]
    assert info.funding_interval_ms == 8 * H  # "fundingInterval": 480 (minutes), not 480 h
    body["result"]["list"][0]["fundingInterval"] = 240
    (four,) = parse_instruments(body, "linear")[0]
    assert four.funding_interval_ms == 4 * H
    rig = Rig({"BTCUSDT": "linear"}, interval_ms=lambda s: four.funding_interval_ms)
    rig.send(frame("tickers.BTCUSDT"))  # 2023: no fundingIntervalHour yet
    assert rig.of(FundingRate)[0].interval_ms == 4 * H


def test_no_rate_is_published_while_no_interval_is_known() -> None:
    rig = Rig({"BTCUSDT": "linear"}, interval_ms=lambda s: None)
    rig.send(frame("tickers.BTCUSDT"))
    assert rig.of(FundingRate) == [] and len(rig.of(Quote)) == 1
    assert rig.feed.next_settlement_ms == {"BTCUSDT": T_2023}


def test_a_futures_ticker_with_empty_funding_fields_gives_prices_and_no_rate() -> None:
    rig = Rig({"BTC-26DEC25": "linear"}, interval_ms=lambda s: 8 * H)
    rig.send(data.docs_ticker("linear_futures"))  # "fundingRate": "", "nextFundingTime": ""
    assert rig.stats.parse_errors == 0
    (q,) = rig.of(Quote)
    assert (q.mark, q.index, q.bid, q.ask) == (121144.63, 114132.51, 111254.5, 131001.0)
    assert rig.of(FundingRate) == [] and rig.feed.next_settlement_ms == {}


def test_an_empty_rate_in_a_delta_clears_the_estimate_without_a_crash() -> None:
    rig = Rig({"BTCUSD": "inverse"}, interval_ms=lambda s: 8 * H)
    rig.send(frame("tickers.BTCUSD", 0), "inverse")
    delta = json.loads(frame("tickers.BTCUSD", 1))
    delta["data"]["fundingRate"] = ""
    rig.send(delta, "inverse")
    assert rig.stats.parse_errors == 0 and len(rig.of(FundingRate)) == 1
    assert rig.feed.state["BTCUSD"].funding_rate() is None


def test_orderbook_1_snapshot_then_delta_gives_the_best_bid_and_ask() -> None:
    rig = Rig({"BTCUSDT": "linear"}, book=True)
    rig.send(frame("orderbook.1.BTCUSDT", 0))
    rig.send(frame("orderbook.1.BTCUSDT", 1))  # bid size changes, ask side empty: unchanged
    quotes = rig.of(Quote)
    assert [(q.bid, q.ask) for q in quotes] == [(28552.0, 28552.1), (28552.0, 28552.1)]
    assert rig.feed.gate.last["orderbook.1.BTCUSDT"] == 7003306
    removed = json.loads(frame("orderbook.1.BTCUSDT", 1))
    removed["data"].update(b=[["28552.00", "0"]], u=7003307)
    rig.send(removed)
    assert (rig.of(Quote)[-1].bid, rig.of(Quote)[-1].ask) == (None, 28552.1)


def test_ws_paths_follow_the_instrument_kind() -> None:
    assert ws_url("wss://stream.bybit.com", "linear") == "wss://stream.bybit.com/v5/public/linear"
    assert ws_url("ws://h:1/", "inverse") == "ws://h:1/v5/public/inverse"
    rig = Rig({"BTCUSDT": "linear", "BTCUSD": "inverse"})
    assert {k: s.url for k, s in rig.feed.sockets.items()} == {
        "linear": "wss://stream.bybit.com/v5/public/linear",
        "inverse": "wss://stream.bybit.com/v5/public/inverse",
    }
    with pytest.raises(ValueError, match="only linear or inverse"):
        ws_url("wss://x", "option")


# ---------------------------------------------------------------------- feed rules
def test_a_topic_that_was_not_subscribed_is_counted_and_dropped() -> None:
    rig = Rig({"BTCUSD": "inverse"}, interval_ms=lambda s: 8 * H)
    rig.send(frame("publicTrade.BTCUSD"), "inverse")  # real frame, never subscribed
    rig.send(frame("tickers.BTCUSDT"), "inverse")  # a symbol of another feed
    assert rig.events == []
    assert rig.stats.dropped == {"unsubscribed_stream": 2}
    assert rig.stats.parse_errors == 0
    assert sorted(rig.feed.gate.subscribed) == ["tickers.BTCUSD"]  # nothing was added


def test_a_subscribed_topic_carrying_another_symbol_is_dropped() -> None:
    rig = Rig({"BTCUSD": "inverse"}, interval_ms=lambda s: 8 * H)
    bad = json.loads(frame("tickers.BTCUSD", 0))
    bad["data"]["symbol"] = "ETHUSD"
    rig.send(bad, "inverse")
    assert rig.events == [] and rig.stats.dropped == {"wrong_symbol": 1}


def test_a_frame_older_than_the_last_applied_is_dropped_and_counted() -> None:
    rig = Rig({"BTCUSD": "inverse"}, interval_ms=lambda s: 8 * H)
    rig.send(frame("tickers.BTCUSD", 0), "inverse")
    rig.send(frame("tickers.BTCUSD", 1), "inverse")
    older = json.loads(frame("tickers.BTCUSD", 0))  # cs 20856433578 < 20856433603
    older["data"]["markPrice"] = "1.00"
    n = len(rig.events)
    rig.send(older, "inverse")
    assert len(rig.events) == n and rig.feed.state["BTCUSD"].mark == 28560.0
    assert rig.stats.dropped == {"older_than_applied": 1}
    rig.feed.gate.reset()  # a new connection starts a new sequence
    rig.send(frame("tickers.BTCUSD", 0), "inverse")
    assert len(rig.events) == n + 1


def test_a_delta_with_a_bad_field_is_counted_and_leaves_the_state_as_it_was() -> None:
    rig = Rig({"BTCUSD": "inverse"}, interval_ms=lambda s: 8 * H)
    rig.send(frame("tickers.BTCUSD", 0), "inverse")
    bad = json.loads(frame("tickers.BTCUSD", 1))
    bad["data"].update(bid1Price="28561.00", markPrice="n/a")
    rig.send(bad, "inverse")
    assert rig.stats.parse_errors == 1 and rig.feed.state["BTCUSD"].bid == 28560.0
    rig.send(frame("tickers.BTCUSD", 1), "inverse")  # the next good frame applies as usual
    q = rig.of(Quote)[-1]
    assert (q.mark, q.bid, q.ask) == (28560.0, 28560.0, 28560.5)
    assert rig.stats.parse_errors == 1


def test_a_delta_before_any_snapshot_is_dropped() -> None:
    rig = Rig({"BTCUSD": "inverse"}, interval_ms=lambda s: 8 * H)
    rig.send(frame("tickers.BTCUSD", 1), "inverse")
    assert rig.events == [] and rig.stats.dropped == {"delta_before_snapshot": 1}


def test_a_subscription_refusal_is_logged_with_its_text_at_most_once_per_period() -> None:
    rig = Rig({"BTCUSDT": "linear"})
    refusal = data.load("ws_nautilus_subscription_failure.json")
    for _ in range(50):
        rig.send(refusal)
    assert rig.stats.venue_errors == 50
    alerts = [t for k, t in rig.log if k == "alert"]
    assert alerts == ["bybit linear subscribe: Invalid topic: invalid.topic.BTCUSDT"]
    rig.clock.t += 10.0
    rig.send(refusal)
    assert [t for k, t in rig.log if k == "alert"][1] == (
        "bybit linear subscribe: Invalid topic: invalid.topic.BTCUSDT "
        "(+49 more held back since the last line of this kind)"
    )
    assert rig.events == [] and rig.stats.parse_errors == 0


def test_acks_and_pongs_are_control_not_data() -> None:
    rig = Rig({"BTCUSD": "inverse"})
    rig.send(data.load("ws_docs_subscribe_ack_linear_inverse.json"), "inverse")
    rig.send(data.load("ws_docs_pong_linear_inverse.json"), "inverse")
    rig.send({"req_id": "2", "op": "pong", "args": ["1757405570352"], "conn_id": "x"}, "inverse")
    assert rig.feed.sockets["inverse"].pongs == 2
    assert rig.events == [] and rig.stats.dropped == {} and rig.stats.venue_errors == 0


def test_bad_frames_are_logged_by_time_not_by_a_power_of_two_count() -> None:
    rig = Rig({"BTCUSD": "inverse"})
    for _ in range(8):
        rig.send('{"topic":"tickers.BTCUSD","type":"snapshot","data":{"symbol":3}}', "inverse")
    assert rig.stats.parse_errors == 8
    assert len(rig.log) == 1  # 1, 2, 4 and 8 would have been four lines
    rig.clock.t += 10.0
    count_bad_frame(rig.stats, lambda k, t: rig.log.append((k, t)), ValueError("x"), b"{}")
    assert "(+7 more held back" in rig.log[-1][1]


def test_wire_number_helper_refuses_text_but_accepts_empty() -> None:
    assert wire.num("", "markPrice") is None and wire.num(None, "x") is None
    with pytest.raises(ValueError, match="markPrice"):
        wire.num("abc", "markPrice")


def test_the_bybit_package_stands_alone() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import core.venues.bybit.plugin, core.venues.bybit.feed, core.venues.bybit.funding\n"
        "import core.venues.bybit.specs, core.venues.bybit.wire\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('core.venues.binance',"
        " 'core.venues.bitmex')))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_rate_beyond_the_tickers_own_cap_is_kept_and_flagged() -> None:
    rig = Rig({"BTCUSDT": "linear"}, interval_ms=lambda s: 8 * H)
    ticker = json.loads(data.docs_ticker("linear_perpetual"))  # fundingCap 0.005
    ticker["data"]["fundingRate"] = "-0.5"  # -0.5 % written without its % sign
    rig.send(ticker)
    (fr,) = rig.of(FundingRate)
    assert fr.rate == Decimal("-0.5")  # kept: the venue said it, the operator must see it
    assert rig.log == [
        (
            "alert",
            "bybit BTCUSDT: funding rate -0.5 is beyond its cap of +-0.005 (the ticker's own "
            "fundingCap): check the venue's status before trading on it",
        )
    ]


def test_without_a_cap_on_the_ticker_the_known_cap_is_used() -> None:
    rig = Rig({"BTCUSDT": "linear"}, interval_ms=lambda s: 8 * H)
    snap = json.loads(frame("tickers.BTCUSDT"))  # 2023: no fundingCap field yet
    snap["data"]["fundingRate"] = "0.01"
    rig.send(snap)
    assert len(rig.of(FundingRate)) == 1
    ((kind, text),) = rig.log
    assert kind == "alert" and text.startswith(
        "bybit BTCUSDT: funding rate 0.01 is beyond its cap of +-0.00375 (GET "
        "/v5/market/instruments-info upperFundingRate 0.00375"
    )
