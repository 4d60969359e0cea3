"""Orders that complete later, as on a live venue: the entry waits for the first leg's fill,
the single-leg guard times out, a late fill after the kill switch is swept (HAZARDS H8, H11)."""

from __future__ import annotations

from decimal import Decimal

from core.domain import commands as cmd
from core.domain.config import Settings
from core.domain.risk import TradingState
from core.engine.engine import Engine
from tests.fakes import DeferredRouter
from tests.helpers import bar, settle

D = Decimal
BN, BM = ("binance", "BTCUSDT"), ("bitmex", "XBTUSD")


def live_engine(settings: Settings) -> tuple[Engine, DeferredRouter]:
    eng = Engine(settings, mode="live")
    eng.set_state(TradingState.ARMED, "test")
    router = DeferredRouter()
    router.engine = eng
    eng.connect_router(router, None)
    eng.on_event(bar(*BN, "2024-01-01T00:01", 50_000.0))
    eng.on_event(bar(*BM, "2024-01-01T00:01", 50_000.0))
    eng.on_event(settle(*BN, "2024-01-01T00:00", "0.0003"))
    eng.on_event(settle(*BM, "2024-01-01T00:00", "-0.003"))
    return eng, router


def test_the_second_leg_is_sent_only_after_the_first_has_filled(settings: Settings) -> None:
    eng, router = live_engine(settings)
    pair = eng.pairs[0]
    eng.drive(pair, pair.enter(1))
    assert pair.status == "entering"
    assert [(i.venue, i.side) for i in router.sent] == [("bitmex", "buy")]
    first = router.sent[0]
    router.fill(first.client_order_id, D(50_000))
    assert [(i.venue, i.side) for i in router.sent] == [("bitmex", "buy"), ("binance", "sell")]
    second = router.sent[1]
    assert second.qty == D("0.200")  # 10,000 USD contracts / 50,000 = 0.2 BTC
    router.fill(second.client_order_id, D(50_000))
    assert pair.status == "open"
    assert eng.ledger.position(*BN).qty == D("-0.200")


def test_a_second_leg_not_filled_in_time_is_cancelled_and_the_first_unwound(
    settings: Settings,
) -> None:
    eng, router = live_engine(settings)
    pair = eng.pairs[0]
    eng.drive(pair, pair.enter(1))
    router.fill(router.sent[0].client_order_id, D(50_000))
    second = router.sent[1]
    eng.on_event(bar(*BM, "2024-01-01T00:02", 50_000.0))  # 60 s later > leg_timeout_s 10 s
    assert second.client_order_id in router.cancels
    assert pair.status == "leg-risk"
    unwind = router.sent[2]
    assert (unwind.venue, unwind.side, unwind.qty, unwind.reduce_only, unwind.purpose) == (
        "bitmex",
        "sell",
        D(10_000),
        True,
        "unwind",
    )
    eng.on_event(bar(*BM, "2024-01-01T00:03", 50_000.0))
    assert len(router.sent) == 3  # one unwind in flight, not a second one
    router.reject(unwind.client_order_id, "timeout")
    eng.on_event(bar(*BM, "2024-01-01T00:04", 50_000.0))
    retry = router.sent[3]
    assert retry.client_order_id == unwind.client_order_id
    router.fill(retry.client_order_id, D(50_000))
    router.reject(second.client_order_id, "cancelled")  # the cancel's answer arrives late
    assert pair.status == "flat"
    assert not eng.ledger.has_exposure()


def test_a_late_fill_after_the_kill_switch_is_closed_reduce_only(settings: Settings) -> None:
    eng, router = live_engine(settings)
    pair = eng.pairs[0]
    eng.drive(pair, pair.enter(1))
    first = router.sent[0]
    eng.handle(cmd.Kill())
    assert eng.state is TradingState.HALTED
    assert first.client_order_id in router.cancels
    router.fill(first.client_order_id, D(50_000))  # it filled before the cancel arrived
    close = router.sent[-1]
    assert (close.venue, close.side, close.qty, close.reduce_only, close.purpose) == (
        "bitmex",
        "sell",
        D(10_000),
        True,
        "kill",
    )
    assert all(i.purpose != "entry" or i is first for i in router.sent)  # no second leg sent
    router.fill(close.client_order_id, D(50_000))
    assert not eng.ledger.has_exposure()


def test_one_close_per_leg_in_flight_and_none_while_the_position_is_unknown(
    settings: Settings,
) -> None:
    eng, router = live_engine(settings)
    eng.drive(eng.pairs[0], eng.pairs[0].enter(1))
    router.fill(router.sent[0].client_order_id, D(50_000))
    router.fill(router.sent[1].client_order_id, D(50_000))
    n = len(router.sent)
    for _ in range(6):  # take-profit and stop firing tick after tick
        eng.close_position(BN, "exit", None)
    assert len(router.sent) == n + 1
    eng.unknown_positions.add(BM)
    eng.close_position(BM, "exit", None)
    assert len(router.sent) == n + 1
    assert any("position unknown" in e.text for e in eng.log)


def test_a_kill_during_leg_risk_keeps_one_close_in_flight_per_leg(settings: Settings) -> None:
    eng, router = live_engine(settings)
    pair = eng.pairs[0]
    eng.drive(pair, pair.enter(1))
    router.fill(router.sent[0].client_order_id, D(50_000))
    router.reject(router.sent[1].client_order_id, "Margin is insufficient")
    assert pair.status == "leg-risk"
    unwind = router.sent[-1]
    assert unwind.purpose == "unwind"
    eng.handle(cmd.Kill())
    in_flight = [i for i in router.sent if i.reduce_only and i.client_order_id in eng.live_orders]
    assert [i.client_order_id for i in in_flight] == [unwind.client_order_id]
    router.fill(unwind.client_order_id, D(50_000))
    assert not eng.ledger.has_exposure()
    assert eng.state is TradingState.HALTED


def test_a_refused_close_makes_the_position_unknown_until_the_venue_is_read(
    settings: Settings,
) -> None:
    eng, router = live_engine(settings)
    doubts: list[tuple[str, str]] = []
    eng.connect_router(router, doubts.append)
    eng.drive(eng.pairs[0], eng.pairs[0].enter(1))
    router.fill(router.sent[0].client_order_id, D(50_000))
    router.fill(router.sent[1].client_order_id, D(50_000))
    eng.drive(eng.pairs[0], eng.pairs[0].close("exit"))
    bn_close = next(i for i in router.sent if i.purpose == "exit" and i.venue == "binance")
    router.reject(bn_close.client_order_id, "ReduceOnly Order is rejected")  # flat by hand?
    assert doubts == [BN] and BN in eng.unknown_positions
    n = len(router.sent)
    eng.close_position(BN, "exit", None)
    assert len(router.sent) == n  # nothing is sent while the position is unknown
    eng.resolve_position(BN, D("-0.200"))  # the venue still holds it: close again
    again = router.sent[-1]
    assert (again.venue, again.side, again.qty, again.reduce_only) == (
        "binance",
        "buy",
        D("0.200"),
        True,
    )
    assert BN not in eng.unknown_positions


def test_a_venue_position_other_than_the_ledgers_is_taken_and_acted_on(
    settings: Settings,
) -> None:
    eng, router = live_engine(settings)
    eng.connect_router(router, lambda key: None)
    eng.drive(eng.pairs[0], eng.pairs[0].enter(1))
    router.fill(router.sent[0].client_order_id, D(50_000))
    router.fill(router.sent[1].client_order_id, D(50_000))
    eng.drive(eng.pairs[0], eng.pairs[0].close("exit"))
    bn_close = next(i for i in router.sent if i.purpose == "exit" and i.venue == "binance")
    router.reject(bn_close.client_order_id, "ReduceOnly Order is rejected")
    eng.resolve_position(BN, D(0))  # closed by hand on the exchange
    # the ledger takes the venue's 0 (an external fill), entries and adds stop, and the
    # default policy (rehedge) leaves nothing to trim: the other leg's exit is in flight
    assert eng.ledger.position(*BN).qty == 0
    assert eng.state is TradingState.PAUSED
    assert any(
        "POSITION MISMATCH binance BTCUSDT: the venue holds 0, the ledger -0.200" in e.text
        for e in eng.log
    )
