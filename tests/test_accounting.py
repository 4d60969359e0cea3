"""Accounting with the worked numbers of DESIGN.md and HAZARDS H1, H2, H4, H5 (exact values)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core.domain.config import Settings
from core.domain.contracts import btc_delta, funding_amount, price_pnl
from core.domain.market import InstrumentState
from core.domain.signal import PairSignal
from core.engine.engine import Engine
from tests.helpers import bar, settle, ts

D = Decimal


def spec(settings: Settings, iid: str):
    return settings.instruments[iid]


def test_h1_rates_on_different_intervals_are_compared_per_hour(settings: Settings) -> None:
    binance = InstrumentState("binance", "BTCUSDT", mark=50_000.0)
    binance.settled_rate, binance.interval_ms = D("0.00010"), 4 * 3_600_000
    bitmex = InstrumentState("bitmex", "XBTUSD", mark=50_000.0)
    bitmex.settled_rate, bitmex.interval_ms = D("0.00015"), 8 * 3_600_000
    sig = PairSignal(
        settings.strategy, spec(settings, "binance_btcusdt"), spec(settings, "bitmex_xbtusd")
    )
    r = sig.read(binance, bitmex)
    # +1: short leg a (Binance) / long leg b (BitMEX): Binance is 0.00020 per 8 h
    assert r.direction == 1
    assert binance.rate_per_hour() == pytest.approx(0.000025)
    assert bitmex.rate_per_hour() == pytest.approx(0.00001875)
    assert r.spread_per_hour is not None
    assert r.spread_per_hour * 8 * 10_000 == pytest.approx(0.50)  # USD per 8 h on 10,000
    assert binance.rate_per_hour() * 24 * 365 == pytest.approx(0.2190)  # type: ignore[operator]
    assert bitmex.rate_per_hour() * 24 * 365 == pytest.approx(0.16425)  # type: ignore[operator]


def test_h2_funding_settles_at_each_venues_own_instant(settings: Settings) -> None:
    eng = Engine(settings)
    bn, bm = ("binance", "BTCUSDT"), ("bitmex", "XBTUSD")
    eng.on_event(bar(*bn, "2024-01-01T07:00", 50_000.0))
    eng.on_event(bar(*bm, "2024-01-01T07:00", 50_000.0))
    eng.send("T", bn, "sell", D("0.200"), False, "entry")
    eng.send("T", bm, "buy", D("10000"), False, "entry")
    for hour in range(8, 14):
        eng.on_event(bar(*bn, f"2024-01-01T{hour:02d}:00", 50_000.0))
        eng.on_event(bar(*bm, f"2024-01-01T{hour:02d}:00", 50_000.0))
        if hour == 8:
            eng.on_event(settle(*bn, "2024-01-01T08:00", "0.0001"))
        if hour == 12:
            eng.on_event(settle(*bm, "2024-01-01T12:00", "0.0001"))
    eng.close_everything("exit")
    pays = eng.ledger.funding_payments
    assert [(p.venue, p.amount, p.currency) for p in pays] == [
        ("binance", D("1.00000"), "USDT"),
        ("bitmex", D("-0.00002"), "XBT"),
    ]


def test_h2_a_hedge_held_between_settlements_gets_nothing(settings: Settings) -> None:
    eng = Engine(settings)
    bn, bm = ("binance", "BTCUSDT"), ("bitmex", "XBTUSD")
    eng.on_event(settle(*bn, "2024-01-01T08:00", "0.0001"))
    eng.on_event(bar(*bn, "2024-01-01T09:00", 50_000.0))
    eng.on_event(bar(*bm, "2024-01-01T09:00", 50_000.0))
    eng.send("T", bn, "sell", D("0.200"), False, "entry")
    eng.send("T", bm, "buy", D("10000"), False, "entry")
    eng.on_event(bar(*bn, "2024-01-01T11:00", 50_000.0))
    eng.close_everything("exit")
    eng.on_event(settle(*bm, "2024-01-01T12:00", "0.0001"))
    assert eng.ledger.funding_payments == []


def test_h4_funding_on_a_position_that_changes_size_is_15_usdt(settings: Settings) -> None:
    eng = Engine(settings)
    bn = ("binance", "BTCUSDT")
    eng.on_event(bar(*bn, "2024-01-01T01:00", 50_000.0))
    eng.send("T", bn, "buy", D("1.000"), False, "entry")
    eng.on_event(settle(*bn, "2024-01-01T08:00", "0.0001"))
    eng.on_event(bar(*bn, "2024-01-01T09:00", 50_000.0))
    eng.send("T", bn, "buy", D("1.000"), False, "ladder")
    eng.on_event(settle(*bn, "2024-01-01T16:00", "0.0001"))
    eng.on_event(bar(*bn, "2024-01-01T17:00", 50_000.0))
    eng.send("T", bn, "sell", D("1.000"), True, "exit")
    eng.on_event(bar(*bn, "2024-01-01T18:00", 50_000.0))
    eng.send("T", bn, "sell", D("1.000"), True, "exit")
    paid = [p.amount for p in eng.ledger.funding_payments]
    assert paid == [D("-5.00000"), D("-10.00000")]
    assert sum(paid) == D("-15")
    assert eng.ledger.funding_usd == D("-15")
    assert eng.ledger.position(*bn).qty == 0


def test_h5_inverse_pnl_uses_one_over_price(settings: Settings) -> None:
    xbtusd = spec(settings, "bitmex_xbtusd")
    loss = price_pnl(xbtusd, D(-10_000), D(50_000), D(55_000))
    assert loss.quantize(D("0.0000001")) == D("-0.0181818")
    assert (loss * 55_000).quantize(D("0.01")) == D("-1000.00")
    gain = price_pnl(xbtusd, D(-10_000), D(50_000), D(25_000))
    assert gain == D("0.2")
    assert gain * 25_000 == D("5000.0")
    btcusdt = spec(settings, "binance_btcusdt")
    assert price_pnl(btcusdt, D("0.2"), D(50_000), D(55_000)) == D("1000.0")
    assert price_pnl(btcusdt, D("0.2"), D(50_000), D(25_000)) == D("-5000.0")


def test_h5_the_ledger_books_the_inverse_hedge_so_that_it_offsets(settings: Settings) -> None:
    eng = Engine(settings)
    bn, bm = ("binance", "BTCUSDT"), ("bitmex", "XBTUSD")
    eng.on_event(bar(*bn, "2024-01-01T00:01", 50_000.0))
    eng.on_event(bar(*bm, "2024-01-01T00:01", 50_000.0))
    eng.send("T", bn, "buy", D("0.200"), False, "entry")
    eng.send("T", bm, "sell", D("10000"), False, "entry")
    eng.on_event(bar(*bn, "2024-01-01T00:02", 55_000.0))
    eng.on_event(bar(*bm, "2024-01-01T00:02", 55_000.0))
    eng.close_everything("exit")
    bn_trade, bm_trade = eng.ledger.trades[2], eng.ledger.trades[3]
    # paper fills carry 2 bps slippage, so compare with the fill prices actually booked
    assert bn_trade.realised == D("0.200") * (bn_trade.fill.price - eng.ledger.trades[0].fill.price)
    entry, exit_ = eng.ledger.trades[1].fill.price, bm_trade.fill.price
    assert bm_trade.realised == D(-10_000) * (1 / entry - 1 / exit_)
    assert float(bm_trade.realised_usd) == pytest.approx(-1000, abs=25)
    assert float(bn_trade.realised_usd + bm_trade.realised_usd) == pytest.approx(0, abs=25)


def test_inverse_delta_drifts_with_price(settings: Settings) -> None:
    xbtusd = spec(settings, "bitmex_xbtusd")
    assert btc_delta(xbtusd, D(10_000), D(50_000)) == D("0.2")
    assert btc_delta(xbtusd, D(10_000), D(25_000)) == D("0.4")


def test_funding_sign_longs_pay_when_rate_positive(settings: Settings) -> None:
    btcusdt = spec(settings, "binance_btcusdt")
    xbtusd = spec(settings, "bitmex_xbtusd")
    assert funding_amount(btcusdt, D("-0.2"), D(50_000), D("0.0001")) == D("1.00000")
    assert funding_amount(btcusdt, D("0.2"), D(50_000), D("-0.0001")) == D("1.00000")
    assert funding_amount(xbtusd, D(10_000), D(50_000), D("0.0001")) == D("-0.00002")
    assert funding_amount(xbtusd, D(-10_000), D(50_000), D("-0.00375")) == D("-0.00075")


def test_settlement_jitter_time_helper_matches_utc() -> None:
    assert ts("2023-09-10T20:00") == 1694376000000


def late(venue: str, symbol: str, instant_iso: str, learned_iso: str, rate: str) -> Any:
    """A settlement at ``instant_iso`` that a live feed learns of at ``learned_iso``."""
    import msgspec

    return msgspec.structs.replace(
        settle(venue, symbol, learned_iso, rate), settlement_ts_ms=ts(instant_iso)
    )


def test_h2_live_a_settlement_learned_late_charges_the_position_held_at_its_instant(
    settings: Settings,
) -> None:
    bn = ("binance", "BTCUSDT")
    closed = Engine(settings)
    closed.on_event(bar(*bn, "2024-01-01T07:00", 50_000.0))
    closed.send("T", bn, "sell", D("0.200"), False, "entry")
    closed.on_event(bar(*bn, "2024-01-01T08:00:02", 50_000.0))
    closed.send("T", bn, "buy", D("0.200"), True, "exit")  # closed 2 s after 08:00
    closed.on_event(late(*bn, "2024-01-01T08:00", "2024-01-01T08:00:05", "0.0001"))
    (pay,) = closed.ledger.funding_payments
    assert (pay.amount, pay.position, pay.settlement_ts_ms) == (
        D("1.00000"), D("-0.200"), ts("2024-01-01T08:00"),
    )  # fmt: skip

    opened = Engine(settings)
    opened.on_event(bar(*bn, "2024-01-01T08:00:02", 50_000.0))
    opened.send("T", bn, "sell", D("0.200"), False, "entry")  # opened 2 s after 08:00
    opened.on_event(late(*bn, "2024-01-01T08:00", "2024-01-01T08:00:05", "0.0001"))
    assert opened.ledger.funding_payments == []
