"""Pure parsers of the venues' wire messages, on real recorded frames (tests/data/feeds)."""

from __future__ import annotations

import json
from decimal import Decimal

import msgspec
import pytest

from core.venues.binance import feed as binance
from core.venues.binance.funding import parse_funding_info, parse_funding_rate_row
from core.venues.bitmex import feed as bitmex
from tests.fake_exchange import frames

HOUR = 3_600_000


def test_binance_mark_price_frame_gives_mark_index_and_an_estimate_for_T() -> None:
    msg = binance.decode_frame(frames.binance_mark_price())
    assert msg.stream == "btcusdt@markPrice@1s"
    q = binance.parse_mark_price(msg.data, 1_000)  # type: ignore[arg-type]
    assert (q.venue, q.symbol, q.mark, q.index) == ("binance", "BTCUSDT", 83084.3, 83123.65891304)
    assert q.bid is None and q.ask is None
    fr = binance.parse_funding_estimate(msg.data, 1_000, 8 * HOUR)  # type: ignore[arg-type]
    assert fr is not None
    assert fr.rate == Decimal("0.00000078") and not fr.fixed
    assert fr.settlement_ts_ms == 1791388800000 and fr.interval_ms == 8 * HOUR


def test_binance_book_ticker_frame_gives_best_bid_and_ask() -> None:
    msg = binance.decode_frame(frames.binance_book_ticker())
    q = binance.parse_book_ticker(msg.data, 5)  # type: ignore[arg-type]
    assert (q.bid, q.ask, q.mark, q.ts_ms) == (83091.6, 83091.7, None, 5)


def test_binance_2021_mark_price_frame_without_ap_or_st_still_parses() -> None:
    raw = frames.crypto_msg_parser("binance_ws_crypto_msg_parser_usdm.jsonl")
    msg = binance.decode_frame(raw["funding_rate.linear_swap"])
    fr = binance.parse_funding_estimate(msg.data, 0, 8 * HOUR)  # type: ignore[arg-type]
    assert fr is not None and fr.rate == Decimal("0.00058455")
    assert fr.settlement_ts_ms == 1617321600000


def test_binance_empty_mark_is_missing_not_a_crash() -> None:
    obj = json.loads(frames.binance_mark_price())
    obj["data"]["p"] = ""
    msg = binance.decode_frame(json.dumps(obj))
    assert binance.parse_mark_price(msg.data, 0).mark is None  # type: ignore[arg-type]


def test_binance_frame_with_a_wrong_type_names_the_field() -> None:
    obj = json.loads(frames.binance_mark_price())
    obj["data"]["E"] = "soon"
    with pytest.raises(msgspec.ValidationError, match=r"data\.E"):
        binance.decode_frame(json.dumps(obj))


def test_funding_info_gives_intervals_and_absent_symbols_are_not_listed() -> None:
    info = parse_funding_info(frames.load_json("binance_rest_fundingInfo.json"))
    assert info["BTCUSDT"] == 8 * HOUR and info["XAUUSDT"] == 4 * HOUR
    assert "ETHUSDT" not in info  # on the 8 h default


def test_funding_rate_row_keeps_the_settlement_mark_and_the_raw_strings() -> None:
    row = frames.load_json("binance_rest_fundingRate.json")[1]
    when, ev = parse_funding_rate_row(row, 77, 8 * HOUR)
    assert when == 1791331200002
    assert ev.rate == Decimal("-0.00000743") and ev.mark_price == Decimal("85516.50151449")
    assert (ev.raw_ts, ev.raw_rate, ev.ts_ms) == ("1791331200002", "-0.00000743", 77)


def test_funding_rate_row_with_empty_mark_price_has_no_mark() -> None:
    row = {"symbol": "BTCUSDT", "fundingTime": 1568102400000, "fundingRate": "0.00010000",
           "markPrice": "", "rateType": "Regular"}  # fmt: skip
    assert parse_funding_rate_row(row, 0, 8 * HOUR)[1].mark_price is None


def test_bitmex_instrument_row_keeps_fixed_rate_and_estimate_apart() -> None:
    row = next(r for r in frames.bitmex_instruments() if r["symbol"] == "ETHUSD")
    est, fixed = bitmex.parse_instrument_funding(row, 9)
    assert fixed.fixed and fixed.rate == Decimal("0.000551")
    assert fixed.settlement_ts_ms == 1627012800000  # 2021-07-23T04:00Z, the fundingTimestamp
    assert not est.fixed and est.rate == Decimal("0.000253")
    assert est.settlement_ts_ms == 1627012800000 + 8 * HOUR  # the settlement after it
    assert est.interval_ms == fixed.interval_ms == 8 * HOUR


def test_bitmex_instrument_mark_and_index() -> None:
    row = next(r for r in frames.bitmex_instruments() if r["symbol"] == "XBTUSD")
    q = bitmex.parse_instrument_quote(row, 1)
    assert q is not None and (q.mark, q.index) == (32184.89, 32182.72)


def test_bitmex_funding_row_is_a_settlement_at_its_timestamp() -> None:
    raw = frames.crypto_msg_parser("bitmex_ws_crypto_msg_parser_funding_quote.jsonl")
    row = json.loads(raw["funding_rate.inverse_swap"])["data"][0]
    when, ev = bitmex.parse_funding(row, 123)
    assert when == 1617307200000  # 2021-04-01T20:00:00.000Z
    assert ev.rate == Decimal("0.000817") and ev.interval_ms == 8 * HOUR
    assert ev.raw_ts == "2021-04-01T20:00:00.000Z" and ev.ts_ms == 123


def test_bitmex_quote_row_with_a_string_price_is_refused() -> None:
    with pytest.raises(ValueError, match="bidPrice"):
        bitmex.parse_quote({"symbol": "XBTUSD", "bidPrice": "32180", "askPrice": 32180.5}, 0)
