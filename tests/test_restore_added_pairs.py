"""Restart restores the pairs the last run added at run time (issue 14): the newest run's
``pair_added`` rows not followed by ``pair_removed``, with their recorded specs and
settings, DISARMED (an alert says when the pair was armed), BEFORE start-up reads the
venues' positions, so that a position on an added pair's leg is that pair's (adopted as
the last run left it), not a mismatch. Live end to end on the fake venues, and the rows'
folding on its own."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.domain import commands as cmd
from core.domain.config import PairSettings, load_config
from core.domain.risk import TradingState
from core.engine.engine import Engine
from core.engine.restart import added_pairs
from core.execution.limits import VenueLimiter
from core.runtime.execution import build_execution
from core.runtime.live_add import admit
from core.runtime.live_link import EngineRouter
from core.runtime.paper_session import build_paper_session
from core.runtime.wiring import attach_observers
from tests.conftest import aeventually, eventually
from tests.fake_exchange.exchanges import FakeExchanges
from tests.fake_exchange.thread import ServerThread
from tests.fake_venues import ENV, KEYS, ROOT, FakeBinance, FakeBybit, live_settings
from tests.helpers import bar
from tests.test_add_pair import ETH_BINANCE, ETH_BYBIT
from tests.test_live_add_pair import list_eth

D = Decimal


def leg(iid: str, spec: Any) -> dict[str, Any]:
    return {"id": iid, **{f: str(getattr(spec, f)) for f in spec.__struct_fields__}}


def added_row(name: str) -> dict[str, Any]:
    return {
        "pair": name,
        "legs": [leg("binance_ethusdt", ETH_BINANCE), leg("bybit_ethusdt", ETH_BYBIT)],
        "max_notional_usd": "20000",
        "armed": False,
        "settings": {"name": name, "leg_a": "binance_ethusdt", "leg_b": "bybit_ethusdt",
                     "max_notional_usd": "20000", "hedge_band": "0.5"},
    }  # fmt: skip


def test_added_armed_removed_and_added_again_fold_to_what_the_run_ended_with() -> None:
    rows = [
        ("pair_added", added_row("ETH")),
        ("pair_added", added_row("ETH2")),
        ("pair_armed", {"pair": "ETH"}),
        ("pair_removed", {"pair": "ETH2", "legs": []}),
        ("pair_added", added_row("ETH3")),
        ("pair_removed", {"pair": "ETH3", "legs": []}),
        ("pair_added", added_row("ETH3")),
    ]
    got = added_pairs(rows)
    assert [(a.pair.name, a.armed) for a in got] == [("ETH", True), ("ETH3", False)]
    eth = got[0]
    assert (eth.pair.leg_a, eth.pair.max_notional_usd, eth.pair.hedge_band) == (
        "binance_ethusdt",
        D("20000"),
        D("0.5"),
    )
    assert (eth.spec_a, eth.spec_b) == (ETH_BINANCE, ETH_BYBIT)
    bad = added_row("BAD")
    bad["legs"][1]["lot"] = "a tenth"
    with pytest.raises(ValueError, match=r"pair_added row of pair 'BAD': ValidationError: .*lot"):
        added_pairs([("pair_added", bad)])


@pytest.fixture
def venues(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path / "state"))
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    st = ServerThread()
    feeds = FakeExchanges()
    st.call(feeds.start())
    fb = st.call(FakeBinance(*KEYS["binance"]).start())
    fy = st.call(FakeBybit(*KEYS["bybit"]).start())
    list_eth(fb, fy)
    yield st, feeds, fb, fy
    st.call(fb.stop())
    st.call(fy.stop())
    st.call(feeds.stop())
    st.close()


ETHX = PairSettings(name="ETHX", leg_a="binance_ethusdt", leg_b="bybit_btcusdt")
"""Binance ETHUSDT / Bybit BTCUSDT: the symbols the public fakes stream besides the inverse
session's own (the engine does not match assets: the scanner does)."""


async def first_run(settings: Any, fb: FakeBinance, fy: FakeBybit) -> None:
    """A live run that adds ETHX at run time, arms it, opens it at the fakes and ends with the
    position open (its audit log in the state directory, as ``--live`` writes it)."""
    limiters = {n: VenueLimiter(n, max_wait_s=3.0) for n in ("binance", "bybit")}
    router, venues = build_execution(settings, limiters=limiters)
    await router.start()
    task = asyncio.get_running_loop().create_task(router.run())
    eng = Engine(settings, mode="live")
    obs = attach_observers(eng, run_id="live-first")
    eng.session_venues = frozenset({"binance", "bybit"})
    router.listener = eng.on_order_update
    eng.connect_router(EngineRouter(router, venues, eng), None)
    try:
        legs = [ETH_BINANCE, settings.instruments["bybit_btcusdt"]]
        assert await admit(router, venues, legs) is None
        eng.handle(cmd.AddPair(pair=ETHX, spec_a=legs[0], spec_b=legs[1], source="test"))
        eng.handle(cmd.ArmPair(pair="ETHX", source="test"))
        fb.price = fy.price = D("2999")
        eng.on_event(bar("binance", "ETHUSDT", "2024-01-01T00:01", 2_999.0))
        eng.on_event(bar("bybit", "BTCUSDT", "2024-01-01T00:01", 2_999.0))
        eng.set_state(TradingState.ARMED, "test")
        ethx = eng.pairs[-1]
        eng.drive(ethx, ethx.enter(1))
        await aeventually(lambda: ethx.status == "open", timeout_s=10)
    finally:
        eng.disconnect_router()
        await router.close()
        await task
        for close in obs.closers:
            close()


def test_a_live_restart_restores_an_added_pair_and_adopts_its_position(
    venues: Any, tmp_path: Path
) -> None:
    st, feeds, fb, fy = venues
    base = load_config(ROOT / "configs" / "binance_bybit_inverse.toml")
    settings = live_settings(feeds.settings(base), fb, fy, timeout_ms=2000, grace_ms=500)
    st.call(first_run(settings, fb, fy), timeout_s=30)
    assert (fb.positions["ETHUSDT"], fy.positions["BTCUSDT"]) == (D("-3.334"), D("3.334"))

    session = build_paper_session(settings, mode="live")  # the restart
    host, eng = session.host, session.engine
    ethx = next(p for p in eng.pairs if p.cfg.name == "ETHX")  # before anything connects
    assert eng.run_time_pairs == {"ETHX"}  # live_task teaches their specs to the router
    assert not ethx.armed and eng.traded_keys()[-2:] == [("binance", "ETHUSDT"),
                                                          ("bybit", "BTCUSDT")]  # fmt: skip
    host.start()
    try:
        eventually(lambda: any("live execution ready" in e.text for e in host.snapshot().log), 15)
        snap = host.snapshot()
        log = [e.text for e in snap.log]
    finally:
        host.stop()
    alerts = [e.text for e in snap.log if e.kind == "alert"]
    assert "restore pair ETHX: it was armed in the last run; restored DISARMED: arm it " \
        "(palette: Arm pair ETHX) once its legs are reviewed" in alerts  # fmt: skip
    assert not [t for t in alerts if t.startswith("RESTART") or "mismatch" in t]
    assert snap.risk.trading_state == "DISARMED"  # no review: nothing to ask about
    assert any(
        t.startswith("pair ETHX adopted from the last run: binance ETHUSDT -3.334 @ 2999")
        for t in log
    )
    row = next(p for p in snap.pairs if p.name == "ETHX")
    assert (row.armed, row.status) == (False, "open")
    assert eng.ledger.position("binance", "ETHUSDT").qty == D("-3.334")
    assert eng.ledger.position("bybit", "BTCUSDT").qty == D("3.334")
    with sqlite3.connect(tmp_path / "state" / "audit-live.db") as db:
        rows = db.execute(
            "SELECT run_id, kind, payload FROM audit WHERE kind LIKE 'pair_%' ORDER BY seq"
        ).fetchall()
    runs = list(dict.fromkeys(r for r, _, _ in rows))
    assert len(runs) == 2
    second = [(k, json.loads(p)) for r, k, p in rows if r == runs[1]]
    assert [k for k, _ in second] == ["pair_added", "pair_adopted"]
    assert second[0][1]["restored"] is True and second[0][1]["armed"] is False
    assert [leg["lot"] for leg in second[0][1]["legs"]] == ["0.001", "0.001"]


def test_paper_restores_an_added_pair_until_it_is_removed(venues: Any) -> None:
    """Paper: run 1 adds ETHX; run 2 starts with it (restored, DISARMED, its instruments
    among those the feeds subscribe) and removes it; run 3 starts without it."""
    _, feeds, _, _ = venues
    settings = feeds.settings(load_config(ROOT / "configs" / "binance_bybit_inverse.toml"))
    eng = Engine(settings, mode="paper")
    obs = attach_observers(eng, run_id="paper-first")
    eng.session_venues = frozenset({"binance", "bybit"})
    eng.handle(cmd.AddPair(pair=ETHX, spec_a=ETH_BINANCE,
                           spec_b=settings.instruments["bybit_btcusdt"]))  # fmt: skip
    for close in obs.closers:
        close()

    second = build_paper_session(settings)
    eng2 = second.engine
    assert [(p.cfg.name, p.armed) for p in eng2.pairs] == [("BTC", True), ("ETHX", False)]
    assert [s.symbol for s in map(eng2.settings.instruments.get, eng2.settings.traded_ids())
            if s is not None] == ["BTCUSDT", "BTCUSD", "ETHUSDT", "BTCUSDT"]  # fmt: skip
    assert eng2.specs[("binance", "ETHUSDT")] == ETH_BINANCE  # as recorded
    assert [e.text for e in eng2.log if e.text.startswith("restore pair")] == [
        "restore pair ETHX: added DISARMED: binance ETHUSDT / bybit BTCUSDT, cap 60000 USD a "
        "leg; it opens nothing until armed (palette: Arm pair ETHX)"
    ]
    eng2.handle(cmd.RemovePair(pair="ETHX"))
    for close in second.host.observers.closers:  # never started: its audit log closed here
        close()

    third = build_paper_session(settings)
    assert [p.cfg.name for p in third.engine.pairs] == ["BTC"]
    for close in third.host.observers.closers:
        close()
