"""A live engine without its order path (start-up not finished, or failed) sends nothing and
refuses to arm: a live order never falls back to the paper venue, whose fills would show as
LIVE positions and go to the live audit log as real fills (found by a new user: a live
start-up that failed, then `a`, filled two entries on paper). A session whose live start-up
failed exits 1 and says why after the console."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.domain import commands as cmd
from core.domain.risk import TradingState
from core.engine.engine import NOT_CONNECTED, Engine
from core.runtime.paper_session import build_paper_session
from tests.conftest import eventually
from tests.fake_exchange.exchanges import FakeExchanges
from tests.fake_exchange.thread import ServerThread, fakes_on_a_thread
from tests.fake_venues import ENV, KEYS, FakeBinance, FakeBybit, live_settings
from tests.helpers import with_overrides
from tests.test_add_pair import alerts, eager, prices
from tests.test_add_pair_paper import eager as eager_on_fakes


def test_a_live_engine_without_its_order_path_sends_nothing_and_is_not_armed() -> None:
    eng = Engine(with_overrides(eager(), risk={"start_state": "ARMED"}), mode="live")
    assert eng.state is TradingState.ARMED  # as a config may start it
    prices(eng, 1)
    prices(eng, 2)  # an observation due: the pair would enter
    assert eng.ledger.trades == []
    assert all(p.qty == 0 for p in eng.ledger.positions.values())
    assert {r.reason for r in eng.rejections} == {NOT_CONNECTED}
    assert alerts(eng)[0].endswith(f"not sent: {NOT_CONNECTED}")
    eng.handle(cmd.Disarm(source="test"))
    eng.handle(cmd.Arm(source="test"))
    assert eng.state is TradingState.DISARMED
    assert alerts(eng)[-1] == f"not armed: {NOT_CONNECTED}"


@pytest.fixture
def fx(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeExchanges]:
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path / "state"))
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    with fakes_on_a_thread() as (_, fakes):
        yield fakes


def test_a_live_session_whose_start_up_failed_cannot_be_armed_and_exits_1(
    fx: FakeExchanges,
) -> None:
    gone = asyncio.run(FakeBinance(*KEYS["binance"]).start())  # a port nobody answers on
    asyncio.run(gone.stop())
    fy = FakeBybit(*KEYS["bybit"])
    st = ServerThread()
    st.call(fy.start())
    try:
        settings = live_settings(eager_on_fakes(fx), gone, fy, timeout_ms=500)
        session = build_paper_session(settings, mode="live")
        host, eng = session.host, session.engine
        host.start()
        try:
            eventually(lambda: eng.state is TradingState.HALTED, timeout_s=20)
            halted = [a for a in alerts(eng) if a.startswith("live trading halted: ")]
            assert halted and "binance" in halted[0]
            assert host.exit_code == 1
            host.submit(cmd.Arm(source="test"))  # what the banner invites
            eventually(lambda: alerts(eng)[-1] == f"not armed: {NOT_CONNECTED}")
            assert eng.state is TradingState.HALTED
            assert eng.ledger.trades == []
            assert fy.placed() == []
        finally:
            host.stop()
    finally:
        st.call(fy.stop())
        st.close()
