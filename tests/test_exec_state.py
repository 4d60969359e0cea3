"""The order state machine: reports from REST and user streams become one clean sequence of
order updates, fills counted once, funding rows never fills."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from core.domain.config import Settings
from core.domain.venue import OrderStatus
from core.execution.state import OrderBook, Report
from core.venues.binance.execution import parse_order, parse_user_event
from core.venues.bybit.execution import (
    parse_funding_execution,
    parse_trade_execution,
)
from core.venues.bybit.execution import parse_order as parse_bybit_order
from tests.conftest import DATA
from tests.fake_venues import default_settings, intent

BYBIT = DATA / "bybit"

S = OrderStatus


@pytest.fixture
def settings() -> Settings:
    """The shipped config: Binance BTCUSDT, Bybit BTCUSDT and inverse BTCUSD."""
    return default_settings()


def book(settings) -> OrderBook:  # type: ignore[no-untyped-def]
    return OrderBook({(s.venue, s.symbol): s for s in settings.instruments.values()})


def rep(cid: str, status: OrderStatus, filled: str = "0", **kw) -> Report:  # type: ignore[no-untyped-def]
    venue = kw.pop("venue", "binance")
    symbol = kw.pop("symbol", "BTCUSDT")
    return Report(
        cid=cid,
        venue=venue,
        symbol=symbol,
        status=status,
        filled_qty=Decimal(filled),
        ts_ms=1,
        **kw,
    )


def test_a_rest_fill_and_the_same_execution_on_the_stream_give_one_fill(settings) -> None:
    b = book(settings)
    b.track(intent("c1", qty="0.2"))
    ups = []
    b.on_update = ups.append
    b.apply(rep("c1", S.FILLED, "0.2", avg_price=Decimal("50000")))
    b.apply(
        rep(
            "c1",
            S.FILLED,
            "0.2",
            exec_id="t1",
            last_qty=Decimal("0.2"),
            last_price=Decimal("50000"),
            fee=Decimal("5"),
            fee_currency="USDT",
            source="stream",
        )
    )
    fills = [u.fill for u in ups if u.fill is not None]
    assert len(fills) == 1
    assert fills[0].qty == Decimal("0.2") and fills[0].price == Decimal("50000")
    # estimated from the taker fee 0.05 %: 0.2 x 50,000 x 0.0005 = 5 USDT
    assert fills[0].fee == Decimal("5") and fills[0].fee_currency == "USDT"
    assert b.get("c1").status is S.FILLED  # type: ignore[union-attr]


def test_partial_executions_then_a_late_rest_answer_give_each_quantity_once(settings) -> None:
    b = book(settings)
    b.track(intent("c2", qty="0.3"))
    ups = []
    b.on_update = ups.append
    b.apply(
        rep(
            "c2",
            S.PARTIALLY_FILLED,
            "0.1",
            exec_id="t1",
            last_qty=Decimal("0.1"),
            last_price=Decimal("50000"),
            fee=Decimal("2.5"),
            fee_currency="USDT",
        )
    )
    b.apply(
        rep(
            "c2",
            S.FILLED,
            "0.3",
            exec_id="t2",
            last_qty=Decimal("0.2"),
            last_price=Decimal("50010"),
            fee=Decimal("5.001"),
            fee_currency="USDT",
        )
    )
    b.apply(rep("c2", S.PARTIALLY_FILLED, "0.1", avg_price=Decimal("50000")))  # stale REST
    b.apply(
        rep(
            "c2",
            S.PARTIALLY_FILLED,
            "0.1",
            exec_id="t1",
            last_qty=Decimal("0.1"),
            last_price=Decimal("50000"),
        )
    )  # replayed execution
    fills = [u.fill for u in ups if u.fill is not None]
    assert [(f.qty, f.price, f.fee) for f in fills] == [
        (Decimal("0.1"), Decimal("50000"), Decimal("2.5")),
        (Decimal("0.2"), Decimal("50010"), Decimal("5.001")),
    ]
    assert [u.status for u in ups] == [S.PARTIALLY_FILLED, S.FILLED]
    assert b.get("c2").filled_qty == Decimal("0.3")  # type: ignore[union-attr]


def test_an_inverse_fill_price_comes_from_the_harmonic_average(settings) -> None:
    # 10,000 BTCUSD: 5,000 at 50,000 then 5,000 at 55,000; an inverse average is the harmonic
    # mean 10,000 / (5,000/50,000 + 5,000/55,000) = 52,380.952...; the second fill is 55,000.
    b = book(settings)
    b.track(intent("c3", "bybit", "BTCUSD", "sell", "10000"))
    ups = []
    b.on_update = ups.append
    b.apply(
        rep(
            "c3",
            S.PARTIALLY_FILLED,
            "5000",
            venue="bybit",
            symbol="BTCUSD",
            avg_price=Decimal("50000"),
        )
    )
    avg = Decimal(10000) / (Decimal(5000) / 50000 + Decimal(5000) / 55000)
    b.apply(rep("c3", S.FILLED, "10000", venue="bybit", symbol="BTCUSD", avg_price=avg))
    prices = [u.fill.price for u in ups if u.fill is not None]
    assert prices[0] == Decimal("50000")
    assert abs(prices[1] - Decimal("55000")) < Decimal("0.0001")


def test_unknown_is_reported_once_and_then_replaced_by_what_the_venue_says(settings) -> None:
    b = book(settings)
    b.track(intent("c4"))
    ups = []
    b.on_update = ups.append
    b.apply(rep("c4", S.UNKNOWN, reason="timeout"))
    b.apply(rep("c4", S.UNKNOWN, reason="timeout again"))
    assert not b.seen("c4")
    b.apply(rep("c4", S.ACCEPTED, source="stream"))
    b.apply(rep("c4", S.UNKNOWN, reason="a later lookup failed"))
    assert [u.status for u in ups] == [S.UNKNOWN, S.ACCEPTED]
    assert b.seen("c4")


def test_a_final_status_is_never_undone(settings) -> None:
    b = book(settings)
    b.track(intent("c5"))
    b.apply(rep("c5", S.FILLED, "0.2", avg_price=Decimal("50000")))
    assert b.apply(rep("c5", S.ACCEPTED)) is None
    assert b.apply(rep("c5", S.CANCELLED, "0.2")) is None
    assert b.get("c5").status is S.FILLED  # type: ignore[union-attr]


def test_a_rejected_order_may_be_sent_again_with_the_same_id(settings) -> None:
    b = book(settings)
    b.track(intent("c6"))
    b.apply(rep("c6", S.REJECTED, reason="Margin is insufficient."))
    st = b.track(intent("c6"))
    assert st.status is S.NEW and not st.seen


def test_a_bybit_funding_execution_is_booked_as_funding_never_as_a_fill(settings) -> None:
    # hand-made by nautilus on the docs' schema: long 0.093 BTCUSDT, rate 0.0001, execFee
    # +0.7506234 USDT = paid; it even names an orderId, and an orderLinkId would change nothing
    frame = json.loads((BYBIT / "private_ws_nautilus_execution_funding_handmade.json").read_text())
    row = {**frame["data"][0], "orderLinkId": "c7"}
    assert parse_trade_execution(row, "USDT") is None
    f = parse_funding_execution(row, "USDT")
    assert (f.symbol, f.position, f.rate, f.mark_price) == (
        "BTCUSDT",
        Decimal("0.093"),
        Decimal("0.0001"),
        Decimal("80626.20"),
    )
    assert (f.amount, f.currency, f.ts_ms) == (Decimal("-0.7506234"), "USDT", 1788508800000)
    b = book(settings)
    b.track(intent("c7", "bybit", "BTCUSDT", "buy", "0.093"))
    funded = []
    b.on_funding = funded.append
    assert b.apply_funding(f) and not b.apply_funding(f)  # once per execId
    assert funded == [f] and b.funding == [f]
    assert b.get("c7").filled_qty == 0 and b.get("c7").fills == 0  # type: ignore[union-attr]


def test_the_ccxt_funding_row_of_a_short_is_received_at_the_positive_rate() -> None:
    # ccxt 4.5.90's XMRUSDT example: side Sell 0.98, feeRate -0.000761, execFee -0.10232512
    row = json.loads((BYBIT / "private_rest_ccxt_funding_execution_XMRUSDT.json").read_text())
    f = parse_funding_execution(row["body"], "USDT")
    assert (f.position, f.rate, f.amount) == (
        Decimal("-0.98"),
        Decimal("0.000761"),
        Decimal("0.10232512"),
    )
    assert f.currency == "USDT"  # feeCurrency "" -> the instrument's settle currency


def test_a_bybit_trade_execution_is_one_execution_with_its_fee() -> None:
    docs = json.loads((BYBIT / "private_ws_docs_examples.json").read_text())
    row = docs["execution"]["body"]["data"][0]
    assert parse_trade_execution(row, "USDT") is None  # orderLinkId "": not ours
    r = parse_trade_execution({**row, "orderLinkId": "c9"}, "USDT")
    assert r is not None
    assert (r.status, r.filled_qty, r.last_qty, r.last_price) == (
        S.FILLED,
        Decimal("0.5"),
        Decimal("0.5"),
        Decimal("95900.1"),
    )
    assert (r.fee, r.fee_currency, r.exec_id) == (
        Decimal("26.3725275"),
        "USDT",
        "0ab1bdf7-4219-438b-b30a-32ec863018f7",
    )


def test_a_bybit_order_row_and_the_binance_docs_event_parse_to_their_status() -> None:
    ev = json.loads((DATA / "binance_order_trade_update.json").read_text())
    r = parse_user_event(ev, "raw")
    assert r is not None and (r.cid, r.status, r.filled_qty) == ("TEST", S.ACCEPTED, 0)
    assert r.exec_id == "" and r.fee is None
    o = parse_order(
        {
            "clientOrderId": "x",
            "symbol": "BTCUSDT",
            "status": "EXPIRED",
            "executedQty": "0.001",
            "avgPrice": "50000.1",
            "updateTime": 5,
        }
    )
    assert (o.status, o.filled_qty, o.avg_price) == (
        S.CANCELLED,
        Decimal("0.001"),
        Decimal("50000.1"),
    )
    docs = json.loads((BYBIT / "private_rest_docs_examples.json").read_text())
    row = docs["order_realtime"]["body"]["result"]["list"][0]
    by = parse_bybit_order(row)
    assert (by.cid, by.status, by.filled_qty, by.avg_price, by.ts_ms, by.reason) == (
        "test-000005",
        S.ACCEPTED,
        Decimal("0.00"),
        None,
        1684738540561,
        "",
    )
    gone = parse_bybit_order({**row, "orderStatus": "PartiallyFilledCanceled"})
    assert gone.status is S.CANCELLED


async def test_wait_seen_wakes_on_the_first_sign_of_the_id(settings) -> None:
    b = book(settings)
    b.track(intent("c8"))
    assert not await b.wait_seen("c8", 0.01)
    b.apply(rep("c8", S.ACCEPTED, source="stream"))
    assert await b.wait_seen("c8", 0.01)
