"""The kill switch and the closes on the fake venues (Binance USD-M and Bybit v5), issue 11:
every open order of the traded symbols is cancelled at each venue (orders arbtui does not
know included) before the reduce-only closes go out; orders that can only reduce exposure are
sent whatever the audit log's state (it is told loudly), entries are still refused by a
failing write-ahead; a reduce-only close the venue cancels with nothing filled puts the
position in doubt and re-reads it."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from core.domain import commands as cmd
from core.domain.risk import TradingState
from core.domain.venue import OrderStatus
from core.engine.engine import Engine
from core.runtime.wiring import attach_observers
from tests.conftest import aeventually
from tests.diskfull import FULL, disk_full
from tests.fake_venues import ENV, FakeBinance, default_settings
from tests.fakes import DeferredRouter
from tests.helpers import bar
from tests.live_rig import entering, live
from tests.observers import observed

D = Decimal
SYMBOL = "BTCUSDT"
VENUES = ["binance", "bybit"]
CANCEL_ALL = {"binance": ("DELETE", "/fapi/v1/allOpenOrders"),
              "bybit": ("POST", "/v5/order/cancel-all")}  # fmt: skip
CREATE = {"binance": ("POST", "/fapi/v1/order"), "bybit": ("POST", "/v5/order/create")}
POSITION = {"binance": "/fapi/v2/positionRisk", "bybit": "/v5/position/list"}


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path / "state"))
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


# ------------------------------------------------------------------ 1(a) kill: cancel-all
def test_the_engines_kill_asks_every_traded_symbols_venue_to_cancel_all_its_orders() -> None:
    eng = Engine(default_settings(), mode="live")
    router = DeferredRouter()
    router.engine = eng
    eng.connect_router(router, None)
    eng.handle(cmd.Kill(source="test"))
    assert router.cleared == [("binance", "BTCUSDT"), ("bybit", "BTCUSDT")]
    assert eng.state is TradingState.HALTED


@pytest.mark.parametrize("venue", VENUES)
async def test_the_kill_switch_cancels_orders_it_does_not_know_then_closes_reduce_only(
    venue: str, tmp_path: Path
) -> None:
    async with live(tmp_path) as lv:
        fake = lv.fake(venue)
        by_hand = fake.rest_order(SYMBOL, "buy", "0.5")  # placed on the web site
        assert fake.open_orders(SYMBOL) == [by_hand]
        lv.engine.handle(cmd.Kill(source="test"))
        await aeventually(lambda: not lv.engine.ledger.has_exposure(), timeout_s=10)
        assert fake.open_orders(SYMBOL) == []
        assert by_hand.status in ("CANCELED", "Cancelled") and by_hand.qty == D("0.5")
        assert lv.rig.fb.positions[SYMBOL] == 0 and lv.rig.fy.positions[SYMBOL] == 0
        for v in VENUES:  # at each venue: cancel-all first, then the reduce-only close
            calls = [(r.method, r.path) for r in lv.fake(v).log]
            first_cancel = calls.index(CANCEL_ALL[v])
            last_create = len(calls) - 1 - calls[::-1].index(CREATE[v])
            assert first_cancel < last_create
        kills = [t.fill for t in lv.engine.ledger.trades if t.fill.purpose == "kill"]
        assert sorted(f.venue for f in kills) == VENUES
        assert all(f.reduce_only and f.qty == D("0.2") for f in kills)
        assert lv.engine.state is TradingState.HALTED


# ------------------------------------------------------- 1(b) closes never wait on the audit
@pytest.mark.parametrize("venue", VENUES)
async def test_with_the_audit_disk_full_an_entry_is_refused_and_the_kill_is_still_sent(
    venue: str, tmp_path: Path
) -> None:
    async with live(tmp_path) as lv:
        eng, audit = lv.engine, lv.observers.audit
        assert audit is not None and audit.blocking
        with disk_full():
            up = eng.send("BTC", (venue, SYMBOL), "buy", D("0.010"), False, "entry")
            assert up.status is OrderStatus.REJECTED
            assert up.reason.startswith("audit write-ahead failed:") and FULL in up.reason
            assert len(lv.fake(venue).placed(up.client_order_id)) == 0  # not sent
            eng.handle(cmd.Kill(source="test"))
            await aeventually(lambda: not eng.ledger.has_exposure(), timeout_s=10)
            assert lv.rig.fb.positions[SYMBOL] == 0 and lv.rig.fy.positions[SYMBOL] == 0
            loud = [t for t in lv.texts() if t.startswith("AUDIT LOG FAILING")]
            assert len(loud) == 2  # one for each kill order
            assert str(tmp_path / "audit.db") in loud[0] and FULL in loud[0]
            assert "kill order" in loud[0] and "sent without its write-ahead row" in loud[0]
        # the disk has room again: the kill intents are written with what was waiting
        audit.flush(timeout_s=5)
        kill_cids = {t.fill.client_order_id for t in eng.ledger.trades if t.fill.purpose == "kill"}
        with sqlite3.connect(tmp_path / "audit.db") as db:
            rows = db.execute(
                "SELECT client_order_id, payload FROM audit WHERE kind = 'order_intent'"
            ).fetchall()
        written = {cid for cid, p in rows if json.loads(p)["purpose"] == "kill"}
        assert written == kill_cids and len(kill_cids) == 2


def test_a_dead_audit_writer_refuses_an_entry_and_lets_a_kill_through(
    tmp_path: Path,
) -> None:
    eng = Engine(observed(default_settings(), tmp_path), mode="live")
    obs = attach_observers(eng, run_id="live-test")
    assert obs.audit is not None
    router = DeferredRouter()
    router.engine = eng
    eng.connect_router(router, None)
    for venue in VENUES:
        eng.on_event(bar(venue, SYMBOL, "2024-01-01T00:01", 50_000.0))
    eng.set_state(TradingState.ARMED, "test")
    eng.drive(eng.pairs[0], eng.pairs[0].enter(1))
    router.fill(router.sent[0].client_order_id, D(50_000))
    router.fill(router.sent[1].client_order_id, D(50_000))
    assert eng.pairs[0].status == "open"
    obs.audit.writer.close()  # the writer is gone (thread dead)
    n = len(router.sent)
    up = eng.send("BTC", ("binance", SYMBOL), "buy", D("0.010"), False, "entry")
    assert up.status is OrderStatus.REJECTED and "not running" in up.reason
    assert len(router.sent) == n
    eng.handle(cmd.Kill(source="test"))
    kills = [i for i in router.sent[n:] if i.purpose == "kill"]
    assert sorted(i.venue for i in kills) == VENUES and all(i.reduce_only for i in kills)
    assert any("AUDIT LOG FAILING" in e.text and "not running" in e.text for e in eng.log)


# ------------------------------------------------ 2. a close the venue cancels is in doubt
@pytest.mark.parametrize("venue", VENUES)
async def test_a_reduce_only_close_the_venue_cancels_puts_the_position_in_doubt(
    venue: str, tmp_path: Path
) -> None:
    async with live(tmp_path) as lv:
        eng, fake = lv.engine, lv.fake(venue)
        held = eng.ledger.position(venue, SYMBOL).qty
        fake.positions[SYMBOL] = D(0)  # closed by hand on the web site
        if isinstance(fake, FakeBinance):
            fake.expire_reduce_only = True
        else:
            fake.cancel_reduce_only = True
        reads_before = sum(r.path == POSITION[venue] for r in fake.log)
        eng.drive(eng.pairs[0], eng.pairs[0].close("exit"))
        await aeventually(lambda: eng.state is TradingState.PAUSED, timeout_s=10)
        close = next(o for o in fake.orders if o.reduce_only)
        assert close.status in ("EXPIRED", "Cancelled")
        alerts = lv.texts()
        assert any(
            f"{venue} {SYMBOL}: reduce-only exit cancelled, nothing filled; position unknown" in t
            for t in alerts
        )
        assert sum(r.path == POSITION[venue] for r in fake.log) > reads_before  # re-read
        assert any(
            t.startswith(f"POSITION MISMATCH {venue} {SYMBOL}: the venue holds 0, the ledger "
                         f"{held} (re-read)")
            for t in alerts
        )  # fmt: skip
        assert (venue, SYMBOL) not in eng.unknown_positions
        await aeventually(lambda: not eng.ledger.has_exposure(), timeout_s=10)
        assert lv.rig.fb.positions[SYMBOL] == lv.rig.fy.positions[SYMBOL] == 0


def test_a_close_cancelled_with_nothing_filled_is_doubted_like_a_rejection() -> None:
    doubts: list[tuple[str, str]] = []
    eng, router = entering(on_doubt=doubts.append)
    router.fill(router.sent[0].client_order_id, D(50_000))
    router.fill(router.sent[1].client_order_id, D(50_000))
    eng.drive(eng.pairs[0], eng.pairs[0].close("exit"))
    close = next(i for i in router.sent if i.purpose == "exit" and i.venue == "bybit")
    router.cancel_answer(close.client_order_id, "EC_ReduceOnlySetButNotReduce")
    assert doubts == [("bybit", SYMBOL)] and ("bybit", SYMBOL) in eng.unknown_positions
    n = len(router.sent)
    eng.close_position(("bybit", SYMBOL), "exit", None)
    assert len(router.sent) == n  # nothing is sent while the position is unknown
