"""Risk: trading states, drawdown stop-out, kill switch, reduce-only closes (H8, H11)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.analysis.replay import load_replay
from core.domain import commands as cmd
from core.domain.config import Settings
from core.domain.risk import TradingState
from core.engine.engine import Engine
from tests.conftest import SHIPPED_REPLAY
from tests.fakes import FlakyVenue
from tests.helpers import bar, instants, settle, ts, with_overrides

D = Decimal
CRASH_TS = ts("2020-03-13T02:00")  # long XBTUSD / short BTCUSDT is open by then


@pytest.fixture(scope="module")
def march() -> list:  # type: ignore[type-arg]
    return load_replay(SHIPPED_REPLAY)[1]


def run_until(eng: Engine, events: list, until_ms: int) -> None:  # type: ignore[type-arg]
    for batch in instants(events):
        if batch[0].ts_ms > until_ms:
            break
        eng.on_instant(batch)


def test_nothing_is_sent_while_disarmed(settings: Settings, march: list) -> None:  # type: ignore[type-arg]
    eng = Engine(with_overrides(settings, replay={"auto_arm": False}))
    assert eng.state is TradingState.DISARMED
    for batch in instants(march):
        eng.on_instant(batch)
    assert eng.ledger.trades == []
    assert eng.pairs[0].signal.observations > 500  # the signal was watched all along


def test_nothing_is_sent_while_halted(settings: Settings, march: list) -> None:  # type: ignore[type-arg]
    eng = Engine(settings)
    eng.handle(cmd.Kill())
    assert eng.state is TradingState.HALTED
    for batch in instants(march):
        eng.on_instant(batch)
    assert eng.ledger.trades == []


def test_the_default_strategy_enters_scales_in_hedges_and_exits(
    settings: Settings,
    march: list,  # type: ignore[type-arg]
) -> None:
    eng = Engine(settings)
    for batch in instants(march):
        eng.on_instant(batch)
    purposes = [t.fill.purpose for t in eng.ledger.trades]
    assert purposes.count("entry") == 2 and purposes.count("exit") == 2
    assert purposes.count("ladder") == 4 and purposes.count("hedge") == 39
    first = eng.ledger.trades[0].fill
    assert (first.venue, first.side, first.ts_ms) == ("bitmex", "buy", ts("2020-03-12T14:01") - 1)
    assert all(t.fill.reduce_only for t in eng.ledger.trades if t.fill.purpose == "exit")
    assert not eng.ledger.has_exposure()
    assert eng.state is TradingState.ARMED


def test_drawdown_stop_out_flattens_reduce_only_and_halts(
    settings: Settings,
    march: list,  # type: ignore[type-arg]
) -> None:
    eng = Engine(with_overrides(settings, risk={"drawdown_limit_pct": 2.0}))
    for ev in march:
        eng.on_event(ev)
    assert eng.state is TradingState.HALTED
    assert not eng.ledger.has_exposure()
    stops = [t.fill for t in eng.ledger.trades if t.fill.purpose == "flatten"]
    assert stops and all(f.reduce_only for f in stops)
    halted_at = stops[-1].ts_ms
    assert all(t.fill.ts_ms <= halted_at for t in eng.ledger.trades)  # nothing after the halt
    assert any("drawdown" in e.text and "beyond the limit" in e.text for e in eng.log)
    assert eng.dd.max_drawdown_pct > 2.0


@pytest.mark.parametrize("state", ["DISARMED", "ARMED", "PAUSED", "REDUCING", "HALTED"])
def test_kill_switch_from_any_state_ends_flat_and_halted(
    settings: Settings,
    march: list,
    state: str,  # type: ignore[type-arg]
) -> None:
    eng = Engine(settings)
    run_until(eng, march, CRASH_TS)
    assert eng.ledger.has_exposure()
    eng.state = TradingState(state)
    eng.handle(cmd.Kill(source="test"))
    assert eng.state is TradingState.HALTED
    assert not eng.ledger.has_exposure()
    kills = [t.fill for t in eng.ledger.trades if t.fill.purpose == "kill"]
    assert len(kills) == 2 and all(f.reduce_only for f in kills)
    assert all(
        lvl.status != "pending" for lad in eng.pairs[0].ladders.values() for lvl in lad.levels
    )


def test_flatten_closes_reduce_only_and_goes_to_reducing(settings: Settings, march: list) -> None:  # type: ignore[type-arg]
    eng = Engine(settings)
    run_until(eng, march, CRASH_TS)
    eng.handle(cmd.Flatten())
    assert eng.state is TradingState.REDUCING
    assert not eng.ledger.has_exposure()
    flat = [t.fill for t in eng.ledger.trades if t.fill.purpose == "flatten"]
    assert len(flat) == 2 and all(f.reduce_only for f in flat)
    n = len(eng.ledger.trades)
    run_until(eng, [e for e in march if e.ts_ms > CRASH_TS], ts("2020-03-20T00:00"))
    assert len(eng.ledger.trades) == n  # REDUCING opens nothing


def test_pause_stops_adds_but_hedging_and_exit_continue(settings: Settings, march: list) -> None:  # type: ignore[type-arg]
    eng = Engine(settings)
    run_until(eng, march, ts("2020-03-12T16:00"))
    eng.handle(cmd.Pause())
    assert eng.state is TradingState.PAUSED
    run_until(eng, [e for e in march if e.ts_ms > ts("2020-03-12T16:00")], ts("2020-03-24T00:00"))
    after = [t.fill.purpose for t in eng.ledger.trades if t.fill.ts_ms > ts("2020-03-12T16:00")]
    assert "ladder" not in after and "entry" not in after
    assert "hedge" in after and "exit" in after
    assert not eng.ledger.has_exposure()


def test_h8_a_close_when_the_venue_is_already_flat_never_opens(settings: Settings) -> None:
    eng = Engine(settings)
    bn = ("binance", "BTCUSDT")
    eng.on_event(bar(*bn, "2024-01-01T00:01", 60_000.0))
    eng.send("T", bn, "buy", D("5.000"), False, "entry")
    eng.venue.positions[bn] = D(0)  # closed by hand on the exchange
    for _ in range(6):  # take-profit and stop both fire, three ticks in a row
        eng.send("T", bn, "sell", D("5.000"), True, "exit")
    assert eng.venue.positions[bn] == 0
    assert len(eng.ledger.trades) == 1
    assert sum(1 for r in eng.rejections if "would not reduce" in r.reason) == 6


def test_h11_one_leg_fails_then_one_reduce_only_unwind_with_the_same_id(settings: Settings) -> None:
    eng = Engine(settings)
    base = eng.venue

    def reject(intent, attempt):  # type: ignore[no-untyped-def]
        if intent.venue == "binance" and intent.purpose == "entry":
            return "Margin is insufficient"
        if intent.purpose == "unwind" and attempt == 1:
            return "timeout after 10 s"
        return None

    eng.venue = venue = FlakyVenue(base, reject)
    bn, bm = ("binance", "BTCUSDT"), ("bitmex", "XBTUSD")
    eng.on_event(bar(*bn, "2024-01-01T00:01", 50_000.0))
    eng.on_event(bar(*bm, "2024-01-01T00:01", 50_000.0))
    eng.on_event(settle(*bn, "2024-01-01T00:00", "0.0003"))
    eng.on_event(settle(*bm, "2024-01-01T00:00", "-0.003"))
    pair = eng.pairs[0]
    eng.drive(pair, pair.enter(1))
    assert pair.status == "leg-risk"
    assert pair.unhedged_btc() > 0
    eng.on_event(bar(*bm, "2024-01-01T00:02", 50_000.0))  # the retry runs on the next price
    assert pair.status == "flat"
    unwinds = [i for i in venue.submitted if i.purpose == "unwind"]
    assert len(unwinds) == 2 and unwinds[0].client_order_id == unwinds[1].client_order_id
    assert all(i.reduce_only for i in unwinds)
    booked = [(t.fill.venue, t.fill.purpose) for t in eng.ledger.trades]
    assert booked == [("bitmex", "entry"), ("bitmex", "unwind")]
    assert not eng.ledger.has_exposure()


def test_h7_a_pair_that_cannot_be_completed_is_not_started(settings: Settings) -> None:
    import msgspec

    instruments = dict(settings.instruments)
    instruments["binance_btcusdt"] = msgspec.structs.replace(
        instruments["binance_btcusdt"], min_notional=D(100)
    )
    s = with_overrides(settings, sizing={"base_notional_usd": D(100)})
    s = msgspec.structs.replace(s, instruments=instruments)
    eng = Engine(s)
    bn, bm = ("binance", "BTCUSDT"), ("bitmex", "XBTUSD")
    eng.on_event(bar(*bn, "2024-01-01T00:01", 60_000.0))
    eng.on_event(bar(*bm, "2024-01-01T00:01", 60_000.0))
    eng.drive(eng.pairs[0], eng.pairs[0].enter(1))
    assert eng.ledger.trades == []
    assert any("not started" in e.text and "below the minimum 100" in e.text for e in eng.log)
