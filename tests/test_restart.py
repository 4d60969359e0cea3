"""Restart with positions open (issue 11 item 4): the last run's pair is rebuilt from its audit
log and adopted when the venues hold it as it was left; anything else waits, HALTED, for the
operator's adopt, flatten or leave. Against the fake venues, through the runtime's reads."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from core.domain import commands as cmd
from core.domain.risk import TradingState
from core.domain.snapshot import FeedView
from core.engine.attention import Attention
from core.engine.engine import Engine
from core.engine.restart import LegAtRestart, PairAtRestart, plan, rebuild
from core.runtime.live_link import EngineRouter
from core.runtime.restart import last_run_rows, look_at_start
from core.runtime.wiring import attach_observers
from tests.conftest import aeventually
from tests.fake_venues import ENV, default_settings
from tests.helpers import bar
from tests.live_rig import SYMBOL, VENUES, Live, live

D = Decimal
BIN, BYB = ("binance", SYMBOL), ("bybit", SYMBOL)


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path / "state"))
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


def fill(cid: str, venue: str, side: str, qty: str, price: str, purpose: str, ts: int) -> tuple:
    return (
        "fill",
        {"client_order_id": cid, "pair": "BTC", "venue": venue, "symbol": SYMBOL, "side": side,
         "qty": qty, "price": price, "fee": "0", "fee_currency": "USDT", "reduce_only": False,
         "purpose": purpose, "ts_ms": ts},
    )  # fmt: skip


# ------------------------------------------------------------------ the last run, rebuilt
def test_a_run_is_rebuilt_from_its_fills_entry_ladder_and_hedge() -> None:
    rows = [
        fill("e1", "binance", "sell", "0.200", "50000", "entry", 1),
        fill("e2", "bybit", "buy", "0.1", "49900", "entry", 2),
        fill("e2", "bybit", "buy", "0.1", "50100", "entry", 3),  # the same order, two fills
        fill("l1", "binance", "sell", "0.100", "51000", "ladder", 4),
        fill("h1", "bybit", "buy", "0.100", "51000", "hedge", 5),
    ]
    st = rebuild(rows, default_settings())["BTC"]
    assert (st.direction, st.opened_ts_ms) == (1, 1)
    a, b = st.legs[BIN], st.legs[BYB]
    assert (a.qty, a.anchor, a.levels_filled) == (D("-0.300"), D("50000"), 1)
    assert a.entry_price == D("50333.33333333333333333333333")  # (0.2*50000+0.1*51000)/0.3
    assert (b.qty, b.anchor, b.levels_filled) == (D("0.300"), D("50000"), 0)


def test_a_pair_closed_in_the_run_is_flat_and_an_adoption_row_restores_a_pair() -> None:
    closed = [
        fill("e1", "binance", "sell", "0.2", "50000", "entry", 1),
        fill("e2", "bybit", "buy", "0.2", "50000", "entry", 2),
        fill("x1", "binance", "buy", "0.2", "50500", "exit", 3),
        fill("x2", "bybit", "sell", "0.2", "50500", "exit", 4),
    ]
    assert rebuild(closed, default_settings())["BTC"].direction == 0
    legs = {BIN: LegAtRestart(D("0.2"), D("50000"), D("50000"), 2),
            BYB: LegAtRestart(D("-0.2"), D("50010"), D("50010"), 0)}  # fmt: skip
    st = PairAtRestart("BTC", -1, 7, legs)
    again = rebuild([("pair_adopted", {"pair": "BTC", "state": st.payload()})], default_settings())
    assert again["BTC"] == st


def test_the_plan_adopts_only_what_the_venues_hold_exactly_and_asks_about_the_rest() -> None:
    legs = {BIN: LegAtRestart(D("-0.2"), D("50000"), D("50000")),
            BYB: LegAtRestart(D("0.2"), D("50000"), D("50000"))}  # fmt: skip
    st = PairAtRestart("BTC", 1, 1, legs)
    s = default_settings()
    same = plan({BIN: D("-0.2"), BYB: D("0.2")}, {}, {"BTC": st}, s)
    assert same.adopt == [st] and same.questions == []
    one_leg = plan({BIN: D("-0.2"), BYB: D(0)}, {BIN: ["web_1"]}, {"BTC": st}, s)
    assert one_leg.adopt == []
    assert one_leg.questions == [
        "pair BTC: binance BTCUSDT holds -0.2 (audit log -0.2), bybit BTCUSDT holds 0 "
        "(audit log 0.2): one leg only",
        "binance BTCUSDT: 1 open order(s) arbtui does not know: web_1",
    ]
    unknown = plan({BIN: D("-0.1"), BYB: D("0.1")}, {}, {}, s)
    assert unknown.questions == [
        "pair BTC: binance BTCUSDT holds -0.1 (audit log 0), bybit BTCUSDT holds 0.1 "
        "(audit log 0): sizes disagree"
    ]


# ------------------------------------------------------------------ on the fake venues
async def next_run(lv: Live) -> Engine:
    """End the running engine's run (its audit rows flushed) and start the next one on the
    same venues and audit log, as ``arbtui --live`` would after a restart: look at what is
    there and begin the restart review."""
    old = lv.engine
    old.disconnect_router()
    for close in lv.observers.closers:
        close()
    eng = Engine(lv.rig.settings, mode="live")
    obs = attach_observers(eng, run_id="live-test-2")
    lv.observers = obs
    lv.rig.router.listener = eng.on_order_update
    for venue in VENUES:
        eng.on_event(bar(venue, SYMBOL, "2024-01-01T00:02", 50_000.0))
    found = await look_at_start(eng, lv.rig.venues)
    eng.connect_router(EngineRouter(lv.rig.router, lv.rig.venues, eng), None)
    eng.begin_restart(found)
    lv.engine = eng
    return eng


async def test_a_pair_the_last_run_left_open_is_adopted_and_managed_on(tmp_path: Path) -> None:
    async with live(tmp_path) as lv:
        first = lv.engine
        held = {k: first.ledger.position(*k).qty for k in (BIN, BYB)}
        prices = {k: first.ledger.position(*k).entry_price for k in (BIN, BYB)}
        eng = await next_run(lv)
        assert eng.state is TradingState.DISARMED and eng.restart_review is None
        assert {k: eng.ledger.position(*k).qty for k in (BIN, BYB)} == held
        assert {k: eng.ledger.position(*k).entry_price for k in (BIN, BYB)} == prices
        pair = eng.pairs[0]
        assert pair.status == "open" and pair.direction == first.pairs[0].direction
        assert set(pair.ladders) == {BIN, BYB}
        assert [lvl.status for lvl in pair.ladders[BIN].levels][:2] == ["filled", "pending"]
        assert any("pair BTC adopted from the last run" in e.text for e in eng.log)
        third = await next_run(lv)  # restarts again: run 2's adoption row is the state now
        rows = await asyncio.to_thread(last_run_rows, tmp_path / "audit.db")
        assert [k for k, _ in rows] == ["fill", "fill", "pair_adopted"]  # run 2's (adopt fills)
        assert {p["purpose"] for k, p in rows if k == "fill"} == {"adopt"}
        assert third.pairs[0].status == "open" and third.restart_review is None
        assert {k: third.ledger.position(*k).qty for k in (BIN, BYB)} == held
        third.handle(cmd.Arm(source="test"))
        assert third.state is TradingState.ARMED
        third.handle(cmd.Flatten(source="test"))
        await aeventually(lambda: lv.rig.fb.positions[SYMBOL] == lv.rig.fy.positions[SYMBOL] == 0)


async def test_sizes_that_disagree_wait_for_the_operator_then_flatten_closes_reduce_only(
    tmp_path: Path,
) -> None:
    async with live(tmp_path) as lv:
        fb, fy = lv.rig.fb, lv.rig.fy
        fy.positions[SYMBOL] = fy.positions[SYMBOL] / 2  # changed by hand while arbtui was down
        by_hand = fb.rest_order(SYMBOL, "buy", "0.5")
        nb, ny = len(fb.orders), len(fy.orders)
        eng = await next_run(lv)
        assert eng.state is TradingState.HALTED and eng.restart_review is not None
        alerts = [e.text for e in eng.log if e.kind == "alert"]
        assert any(t.startswith("RESTART: pair BTC: ") and "sizes disagree" in t for t in alerts)
        assert any("1 open order(s) arbtui does not know" in t for t in alerts)
        (alarm,) = Attention().alarms(eng)
        assert alarm.text.startswith("restart review: the venues hold what the last run did not")
        assert alarm.text.endswith("answer in the palette (ctrl+p): adopt, flatten or leave")
        eng.handle(cmd.Arm(source="test"))
        assert eng.state is TradingState.HALTED  # nothing trades until it is settled
        await asyncio.sleep(0.3)
        assert (len(fb.orders), len(fy.orders)) == (nb, ny)  # nothing was sent
        eng.handle(cmd.SettleRestart(choice="flatten", source="test"))
        await aeventually(lambda: fb.positions[SYMBOL] == fy.positions[SYMBOL] == 0)
        assert by_hand.status == "CANCELED"
        closes = fb.orders[nb:] + fy.orders[ny:]
        assert len(closes) == 2 and all(o.reduce_only for o in closes)


async def test_leave_touches_nothing_and_keeps_the_engine_halted(tmp_path: Path) -> None:
    async with live(tmp_path) as lv:
        fb, fy = lv.rig.fb, lv.rig.fy
        fy.positions[SYMBOL] = D(0)  # one leg only
        before = (fb.positions[SYMBOL], len(fb.orders), len(fy.orders))
        eng = await next_run(lv)
        eng.handle(cmd.SettleRestart(choice="leave", source="test"))
        eng.handle(cmd.Arm(source="test"))
        assert eng.state is TradingState.HALTED and not eng.ledger.has_exposure()
        assert eng.venue_position(BIN, fb.positions[SYMBOL], "REST read", 0) == "review"
        await asyncio.sleep(0.3)
        assert (fb.positions[SYMBOL], len(fb.orders), len(fy.orders)) == before


async def test_adopt_books_the_venues_sizes_cancels_unknown_orders_and_waits_disarmed(
    tmp_path: Path,
) -> None:
    async with live(tmp_path) as lv:
        fb, fy = lv.rig.fb, lv.rig.fy
        fb.positions[SYMBOL] = fb.positions[SYMBOL] * 2  # more than the audit log says
        by_hand = fy.rest_order(SYMBOL, "sell", "0.3")
        eng = await next_run(lv)
        eng.handle(cmd.SettleRestart(choice="adopt", source="test"))
        assert eng.state is TradingState.DISARMED
        assert eng.ledger.position(*BIN).qty == fb.positions[SYMBOL]
        assert eng.ledger.position(*BYB).qty == fy.positions[SYMBOL]
        await aeventually(lambda: by_hand.status == "Cancelled")
        assert eng.pairs[0].status == "open"


def test_the_banner_says_when_a_venues_order_stream_is_not_live() -> None:
    eng = Engine(default_settings(), mode="live")
    down = FeedView("binance", "private", "stale", 0, 10, 1, "new listenKey failed (attempt 2)")
    live = FeedView("bybit", "private", "live", 0, 10, 0)
    (alarm,) = Attention().alarms(eng, (down, live))
    assert (alarm.kind, alarm.text) == (
        "stale",
        "binance order stream stale: new listenKey failed (attempt 2); orders and positions are "
        "checked by REST meanwhile",
    )
