"""A live session's checks on the fake venues (issue 11 items 3, 5, 8, 9): positions that change
at the venue without an order of ours, the clock measured again, the dead-man switch, and the
venue's own funding figure booked."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from core.domain.config import Settings
from core.domain.risk import TradingState
from core.domain.timeutil import ms_to_iso
from core.runtime.live_watch import LiveWatch
from tests.conftest import aeventually
from tests.fake_venues import ENV, Fault
from tests.live_rig import SYMBOL, VENUES, entering, live

D = Decimal


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path / "state"))
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


def tuned(**venues: float | str):  # type: ignore[no-untyped-def]
    """Settings with ``[venues]`` keys changed (``position_mismatch`` goes to ``[risk]``)."""

    def tune(s: Settings) -> Settings:
        policy = venues.pop("position_mismatch", s.risk.position_mismatch)
        keep = {"position_check_s": 0.0, "clock_resync_s": 0.0, "deadman_s": 0.0, **venues}
        return msgspec.structs.replace(
            s,
            venues=msgspec.structs.replace(s.venues, **keep),
            risk=msgspec.structs.replace(s.risk, position_mismatch=policy),
        )

    return tune


def audit_rows(tmp_path: Path, kind: str) -> list[dict[str, object]]:
    with sqlite3.connect(tmp_path / "audit.db") as db:
        rows = db.execute("SELECT payload FROM audit WHERE kind = ?", (kind,)).fetchall()
    return [json.loads(r[0]) for r in rows]


# ------------------------------------------------ 3. positions that change at the venue
@pytest.mark.parametrize("venue", VENUES)
async def test_a_liquidated_leg_is_seen_on_the_stream_and_the_other_leg_is_closed(
    venue: str, tmp_path: Path
) -> None:
    async with live(tmp_path, tuned(), watch=True) as lv:
        eng, fake = lv.engine, lv.fake(venue)
        other = lv.rig.fy if venue == "binance" else lv.rig.fb
        held = eng.ledger.position(venue, SYMBOL).qty
        fake.change_position(SYMBOL, D(0))  # liquidated: the position stream says 0
        await aeventually(lambda: eng.ledger.position(venue, SYMBOL).qty == 0, timeout_s=10)
        await aeventually(lambda: not eng.ledger.has_exposure(), timeout_s=10)
        assert other.positions[SYMBOL] == 0  # the naked leg was closed reduce-only
        assert eng.state is TradingState.PAUSED  # entries and adds stopped
        await aeventually(lambda: eng.pairs[0].status == "flat", timeout_s=3)
        assert any(
            t.startswith(f"POSITION MISMATCH {venue} {SYMBOL}: the venue holds 0, the ledger "
                         f"{held} (REST read)")
            for t in lv.texts()
        )  # fmt: skip
        await aeventually(lambda: bool(audit_rows(tmp_path, "position_mismatch")), 3)
        rows = audit_rows(tmp_path, "position_mismatch")
        assert [(r["venue"], r["ledger_qty"], r["venue_qty"], r["action"]) for r in rows] == [
            (venue, str(held), "0", "rehedge")
        ]
        closes = [r for r in audit_rows(tmp_path, "order_intent") if r["purpose"] == "unwind"]
        assert closes and all(r["reduce_only"] for r in closes)


async def test_a_position_cut_by_auto_deleverage_trims_the_other_leg_to_a_hedge(
    tmp_path: Path,
) -> None:
    async with live(tmp_path, tuned(), watch=True) as lv:
        eng, fb, fy = lv.engine, lv.rig.fb, lv.rig.fy
        long_fake = fb if fb.positions[SYMBOL] > 0 else fy
        short_fake = fy if long_fake is fb else fb
        long_fake.change_position(SYMBOL, D("0.12"))  # ADL took 0.08 BTC
        await aeventually(lambda: short_fake.positions[SYMBOL] == D("-0.12"), timeout_s=10)
        assert long_fake.positions[SYMBOL] == D("0.12")
        venue_of = {id(fb): "binance", id(fy): "bybit"}
        short_key, long_key = (venue_of[id(short_fake)], SYMBOL), (venue_of[id(long_fake)], SYMBOL)
        # the trim's fill reaches the ledger through the order stream, after the venue has it
        await aeventually(lambda: eng.ledger.position(*short_key).qty == D("-0.12"), 10)
        assert eng.ledger.position(*long_key).qty == D("0.12")


async def test_without_a_stream_the_periodic_read_finds_it_and_flatten_closes_both(
    tmp_path: Path,
) -> None:
    tune = tuned(position_check_s=0.3, position_mismatch="flatten")
    async with live(tmp_path, tune, watch=True) as lv:
        eng, fb, fy = lv.engine, lv.rig.fb, lv.rig.fy
        fb.positions[SYMBOL] = fb.positions[SYMBOL] / 2  # a trade by hand, no stream event
        await aeventually(lambda: not eng.ledger.has_exposure(), timeout_s=10)
        assert fb.positions[SYMBOL] == fy.positions[SYMBOL] == 0
        assert eng.state is TradingState.REDUCING
        assert lv.watch is not None and lv.watch.checks >= 1  # found by the periodic read


def test_a_reading_is_not_compared_while_an_order_is_in_flight_or_after_a_later_fill() -> None:
    eng, router = entering()
    key = (router.sent[0].venue, SYMBOL)
    before = eng.fill_counts.get(key, 0)
    assert eng.venue_position(key, D(0), "REST read", before) == "busy"  # entry in flight
    router.fill(router.sent[0].client_order_id, D(50_000))
    router.fill(router.sent[1].client_order_id, D(50_000))
    held = eng.ledger.position(*key).qty
    assert eng.venue_position(key, D(0), "REST read", before) == "busy"  # read before the fill
    assert eng.venue_position(key, held, "REST read", eng.fill_counts[key]) == "match"
    assert eng.state is TradingState.ARMED


# ------------------------------------------------ 5. the clock, measured again
async def test_the_clock_is_measured_again_periodically(tmp_path: Path) -> None:
    async with live(tmp_path, tuned(clock_resync_s=0.2), watch=True) as lv:
        start = {v: len(lv.fake(v).requests("GET", t)) for v, t in
                 (("binance", "/fapi/v1/time"), ("bybit", "/v5/market/time"))}  # fmt: skip
        await asyncio.sleep(0.7)
        assert len(lv.rig.fb.requests("GET", "/fapi/v1/time")) >= start["binance"] + 2
        assert len(lv.rig.fy.requests("GET", "/v5/market/time")) >= start["bybit"] + 2


# ------------------------------------------------ 9. the dead-man switch
async def test_the_dead_man_switch_is_pushed_back_while_healthy_and_fires_when_not(
    tmp_path: Path,
) -> None:
    async with live(tmp_path, tuned(deadman_s=0.6), watch=True) as lv:
        eng, fb = lv.engine, lv.rig.fb
        resting = fb.rest_order(SYMBOL, "buy", "0.5")  # left by an earlier run
        await asyncio.sleep(1.2)  # two countdowns' worth: pushed back every 0.2 s
        posts = fb.requests("POST", "/fapi/v1/countdownCancelAll")
        assert len(posts) >= 4 and "countdownTime=600" in posts[0].body
        assert resting.status == "NEW" and fb.countdown_fired == []
        eng.set_stale_venues({"bybit"}, {"bybit": " (test)"})  # a feed goes stale
        await aeventually(lambda: resting.status == "CANCELED", timeout_s=3)
        assert fb.countdown_fired == [SYMBOL]
        assert any("bybit: no dead-man switch" in t for t in lv.texts("state"))


# ------------------------------------------------ 8. the venue's funding figure
async def test_binances_funding_fee_income_is_compared_and_its_figure_booked(
    tmp_path: Path,
) -> None:
    async with live(tmp_path, tuned(), watch=False) as lv:
        eng, fb = lv.engine, lv.rig.fb
        watch = LiveWatch(eng, lv.rig.venues)
        held = eng.ledger.position("binance", SYMBOL).qty
        eight_h = 8 * 3600 * 1000
        settle_ms = (int(time.time() * 1000) // eight_h + 1) * eight_h  # the next settlement
        pay = eng.ledger.settle_funding("binance", SYMBOL, settle_ms, D("0.0001"), D(50_000))
        assert pay is not None and pay.amount == -held * D(50_000) * D("0.0001")
        before = eng.ledger.balances[("binance", "USDT")]
        venue_amount = pay.amount - D("0.25")  # the venue charged 0.25 USDT more
        fb.income.append({
            "symbol": SYMBOL, "incomeType": "FUNDING_FEE", "income": str(venue_amount),
            "asset": "USDT", "info": "FUNDING_FEE", "time": settle_ms + 3, "tranId": 9689322392,
            "tradeId": "",
        })  # fmt: skip
        watch.started_ms = settle_ms - 1
        task = asyncio.get_running_loop().create_task(watch._funding_loop())
        try:
            await aeventually(
                lambda: eng.ledger.balances[("binance", "USDT")] == before - D("0.25"), 5
            )
        finally:
            task.cancel()
        assert any(
            f"funding at {ms_to_iso(settle_ms)}: the venue booked" in t
            and "the venue's figure is booked" in t
            for t in lv.texts()
        )


async def test_a_failing_dead_man_switch_is_alerted_once_then_said_when_it_works_again(
    tmp_path: Path,
) -> None:
    async with live(tmp_path, tuned(deadman_s=0.3), watch=True) as lv:
        fb = lv.rig.fb
        down = Fault(503, {"code": -1001, "msg": "Internal error; unable to process."})
        fb.inject("POST /fapi/v1/countdownCancelAll", down, times=4)
        await aeventually(lambda: len(fb.requests("POST", "/fapi/v1/countdownCancelAll")) >= 6, 5)
        failed = [t for t in lv.texts() if "dead-man switch not armed" in t]
        assert len(failed) == 1 and "-1001 Internal error" in failed[0]
        assert "binance BTCUSDT: dead-man switch armed again" in lv.texts("state")


async def test_a_position_read_that_keeps_failing_is_alerted_once(tmp_path: Path) -> None:
    async with live(tmp_path, tuned(), watch=True) as lv:
        watch, fb = lv.watch, lv.rig.fb
        assert watch is not None
        down = Fault(503, {"code": -1001, "msg": "Internal error; unable to process."})
        fb.inject("GET /fapi/v2/positionRisk", down, times=3)
        key = ("binance", SYMBOL)
        assert [await watch.check(key) for _ in range(3)] == ["failed"] * 3
        assert await watch.check(key) == "match"
        failed = [t for t in lv.texts() if "position check failed" in t]
        assert len(failed) == 1 and "-1001" in failed[0]
        assert "binance BTCUSDT: position read again" in lv.texts("state")
