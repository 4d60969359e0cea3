"""A symbol its venue lists but does not trade now (HAZARDS H23: venues wind down, delist and
settle under a running desk): start-up reads each traded symbol's status with its specs
(Binance ``exchangeInfo`` ``status``, Bybit ``instruments-info`` ``status``), and the engine
opens nothing on a pair with such a leg; a pair added at run time with such a leg is refused.
Against the fake venues' REST endpoints, which answer the recorded documents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from core.domain import commands as cmd
from core.domain.config import PairSettings, Settings, load_config
from core.domain.events import InstrumentSpec
from core.runtime.paper_session import build_paper_session
from core.venues.instruments import load_instrument_specs
from tests.conftest import eventually
from tests.fake_exchange.exchanges import FakeExchanges
from tests.fake_exchange.thread import fakes_on_a_thread
from tests.helpers import with_overrides

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def fakes() -> Iterator[FakeExchanges]:
    with fakes_on_a_thread() as (_, fx):
        yield fx


def shipped(fakes: FakeExchanges) -> Settings:
    """The shipped config (Binance BTCUSDT / Bybit BTCUSDT) on the fakes, no metrics."""
    return fakes.settings(with_overrides(load_config(ROOT / "config.toml"), metrics={"port": 0}))


def renamed(s: Settings, iid: str, symbol: str) -> InstrumentSpec:
    """Instrument ``iid``'s spec under another symbol."""
    return msgspec.structs.replace(s.instruments[iid], symbol=symbol)


def test_start_up_reads_which_traded_symbols_each_venue_does_not_trade(
    fakes: FakeExchanges,
) -> None:
    s = shipped(fakes)
    ids = ["binance_btcusdt", "bybit_btcusdt", "bybit_btcusd"]
    assert load_instrument_specs(s, ids=ids).not_trading == {}
    fakes.rest.status["BTCUSDT"] = "SETTLING"
    fakes.bybit.status["BTCUSD"] = "Delivering"
    found = load_instrument_specs(s, ids=ids)
    assert found.not_trading == {
        "binance_btcusdt": "status SETTLING (exchangeInfo)",
        "bybit_btcusd": "status Delivering (instruments-info inverse)",
    }
    assert found.sources["binance_btcusdt"] == "rest"  # its specs are still the venue's


def test_a_symbol_the_venue_does_not_list_is_not_traded(fakes: FakeExchanges) -> None:
    s = shipped(fakes)
    old = renamed(s, "binance_btcusdt", "BTCUSDT_OLD")
    gone = msgspec.structs.replace(s, instruments={**s.instruments, "binance_btcusdt": old})
    found = load_instrument_specs(gone, ids=["binance_btcusdt"])
    assert found.not_trading == {"binance_btcusdt": "not listed by binance REST"}
    assert found.sources["binance_btcusdt"] == "config"


def test_a_paper_session_on_a_settling_symbol_opens_nothing_and_says_so(
    fakes: FakeExchanges,
) -> None:
    fakes.rest.status["BTCUSDT"] = "SETTLING"
    session = build_paper_session(shipped(fakes))
    eng = session.engine
    (pair,) = [p.cfg.name for p in eng.pairs]
    assert eng.not_trading == {("binance", "BTCUSDT"): "status SETTLING (exchangeInfo)"}
    assert [e.text for e in eng.log if e.kind == "alert"] == [
        f"binance BTCUSDT not trading at the venue (status SETTLING (exchangeInfo)): "
        f"pair {pair} opens nothing"
    ]


def test_adding_a_pair_with_a_leg_the_venue_does_not_trade_is_refused(
    fakes: FakeExchanges,
) -> None:
    fakes.bybit.status["BTCUSD"] = "PreLaunch"
    s = shipped(fakes)
    session = build_paper_session(s)
    host, eng = session.host, session.engine
    host.start()
    try:
        pair = PairSettings(name="added", leg_a="binance_ethusdt", leg_b="bybit_btcusd")
        eth = renamed(s, "binance_btcusdt", "ETHUSDT")
        host.submit(cmd.AddPair(pair=pair, spec_a=eth, spec_b=s.instruments["bybit_btcusd"]))
        eventually(lambda: any("add pair added" in e.text for e in eng.log if e.kind == "alert"))
        (refusal,) = [e.text for e in eng.log if e.kind == "alert" and "add pair" in e.text]
        assert refusal == (
            "add pair added: refused: not trading at the venue "
            "(bybit BTCUSD: status PreLaunch (instruments-info inverse))"
        )
        assert [p.cfg.name for p in eng.pairs] == [s.pairs[0].name]
    finally:
        host.stop()


def test_a_running_session_reads_the_status_again_and_keeps_it_while_a_venue_is_down(
    fakes: FakeExchanges,
) -> None:
    session = build_paper_session(shipped(fakes))
    session.status_check_s = 0.2
    host, eng = session.host, session.engine
    host.start()
    try:
        key = ("binance", "BTCUSDT")
        fakes.rest.status["BTCUSDT"] = "SETTLING"
        eventually(lambda: key in eng.not_trading, timeout_s=10)
        assert eng.not_trading == {key: "status SETTLING (exchangeInfo)"}
        fakes.rest.fail = True  # the venue cannot be read: what was known stays
        reads = lambda: sum("exchangeInfo" in r for r in fakes.rest.requests)  # noqa: E731
        n = reads()
        eventually(lambda: reads() >= n + 2, timeout_s=10)  # two reads refused meanwhile
        assert eng.not_trading == {key: "status SETTLING (exchangeInfo)"}
        fakes.rest.fail = False
        fakes.rest.status["BTCUSDT"] = "TRADING"
        eventually(lambda: eng.not_trading == {}, timeout_s=10)
        said = [e.text for e in eng.log if "BTCUSDT" in e.text and "trading" in e.text]
        assert said[-1] == "binance BTCUSDT trading at the venue again"
    finally:
        host.stop()
