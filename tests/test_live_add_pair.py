"""A pair added at run time in a LIVE session (issue 14), on the fake Binance and Bybit
(their real REST wire formats): the new instruments pass the start-up checks at their venues
(listed, lot = the venue's step, one-way mode), the venue shows no position and no open order
on them, and the order path learns their specs, so the pair's orders reach the venues in the
new instruments' lots. A position or an open order at the venue refuses the pair, naming the
step, and leaves nothing learnt.

ETHUSDT is not in the recorded venue data (``tests/data`` holds BTC rows only): its rows here
are GENERATED from the recorded BTC rows (Binance ``exchangeInfo`` 2021-07-22, Bybit
``instruments-info`` docs example) with ETHUSDT's filters as the venues list them (Binance
stepSize 0.001, tickSize 0.01; Bybit qtyStep 0.01, tickSize 0.01)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from core.domain import commands as cmd
from core.domain.risk import TradingState
from core.engine.engine import Engine
from core.runtime.live_add import admit
from core.runtime.live_link import EngineRouter
from tests.conftest import aeventually
from tests.fake_venues import ENV, FakeBinance, FakeBybit, Rig, running
from tests.helpers import bar
from tests.test_add_pair import ETH_BINANCE, ETH_BYBIT, add_eth, alerts, eager

D = Decimal
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


def list_eth(fb: FakeBinance, fy: FakeBybit) -> None:
    """Both fakes list ETHUSDT (generated rows: module docstring)."""
    info = json.loads((DATA / "binance_exchangeInfo_BTCUSDT_2021-07-22.json").read_text())
    row = copy.deepcopy(info["symbols"][0])
    row.update(symbol="ETHUSDT", pair="ETHUSDT", baseAsset="ETH")
    for f in row["filters"]:
        if f["filterType"] in ("LOT_SIZE", "MARKET_LOT_SIZE"):
            f.update(stepSize="0.001", minQty="0.001")
        elif f["filterType"] == "PRICE_FILTER":
            f.update(tickSize="0.01", minPrice="39.86")
    fb.extra_symbols.append(row)
    linear = fy.instruments["linear"]["result"]["list"]
    eth = copy.deepcopy(linear[0])
    eth.update(symbol="ETHUSDT", baseCoin="ETH")
    eth["priceFilter"]["tickSize"] = "0.01"
    eth["lotSizeFilter"].update(qtyStep="0.01", minOrderQty="0.01")
    linear.append(eth)


@asynccontextmanager
async def live_engine() -> AsyncIterator[tuple[Rig, Engine]]:
    """A live engine on both fakes (the runtime's EngineRouter, as ``--live`` wires it),
    ETHUSDT listed at both; the engine trades the shipped BTC pair, nothing held."""
    async with running(eager(), timeout_ms=2000) as rig:
        list_eth(rig.fb, rig.fy)
        eng = Engine(rig.settings, mode="live")
        eng.session_venues = frozenset({"binance", "bybit"})
        rig.router.listener = eng.on_order_update
        eng.connect_router(EngineRouter(rig.router, rig.venues, eng), None)
        try:
            yield rig, eng
        finally:
            eng.disconnect_router()


async def test_a_clean_symbol_is_added_and_its_orders_go_out_in_the_new_lots() -> None:
    async with live_engine() as (rig, eng):
        markets = len(rig.fy.requests("GET", "/v5/market/instruments-info"))  # start's load
        assert await admit(rig.router, rig.venues, [ETH_BINANCE, ETH_BYBIT]) is None
        # the start-up checks ran for ETHUSDT: exchangeInfo and one-way mode at Binance; at
        # Bybit its one market read (ETHUSDT was not listed when the markets were loaded):
        # ccxt asks for the listed and the pre-launch rows of that symbol, nothing more
        assert len(rig.fb.requests("GET", "/fapi/v1/exchangeInfo")) == 2
        assert len(rig.fb.requests("GET", "/fapi/v1/positionSide/dual")) == 2
        read = rig.fy.requests("GET", "/v5/market/instruments-info")[markets:]
        assert sorted(r.query for r in read) == [
            "category=linear&symbol=ETHUSDT&limit=1000",
            "category=linear&symbol=ETHUSDT&limit=1000&status=PreLaunch",
        ]
        assert rig.venues["bybit"].specs[("bybit", "ETHUSDT")] == ETH_BYBIT
        assert rig.router.book.specs[("binance", "ETHUSDT")] == ETH_BINANCE
        eng.handle(add_eth())
        eth = eng.pairs[-1]
        assert (eth.cfg.name, eth.armed) == ("ETH", False)
        assert eng.traded_keys()[-2:] == [("binance", "ETHUSDT"), ("bybit", "ETHUSDT")]
        # the pair enters: its two orders reach the venues with the new specs' lots
        rig.fb.price = rig.fy.price = D("2999")
        for venue in ("binance", "bybit"):
            eng.on_event(bar(venue, "ETHUSDT", "2024-01-01T00:01", 2_999.0))
        eng.handle(cmd.ArmPair(pair="ETH", source="test"))
        eng.set_state(TradingState.ARMED, "test")
        eng.drive(eth, eth.enter(1))
        await aeventually(lambda: eth.status == "open", timeout_s=10)
        (bn,) = [o for o in rig.fb.placed() if o.symbol == "ETHUSDT"]
        (by,) = [o for o in rig.fy.placed() if o.symbol == "ETHUSDT"]
        # 10,000 USD a leg at 2,999: 3.334 ETH in Binance's lot (0.001), 3.33 in Bybit's
        # (0.01): both legs take the coarser; each venue gets it in its own lot's decimals
        assert (bn.side, bn.qty, by.side, by.qty) == ("SELL", D("3.33"), "Buy", D("3.33"))
        (sent,) = [r.body for r in rig.fb.requests("POST", "/fapi/v1/order")]
        assert "symbol=ETHUSDT&side=SELL&type=MARKET&quantity=3.330&" in sent
        (created,) = [json.loads(r.body) for r in rig.fy.requests("POST", "/v5/order/create")]
        assert (created["symbol"], created["category"], created["qty"]) == (
            "ETHUSDT",
            "linear",
            "3.33",
        )
        assert eng.ledger.position("binance", "ETHUSDT").qty == D("-3.33")
        assert eng.ledger.position("bybit", "ETHUSDT").qty == D("3.33")
        assert not [t for t in alerts(eng) if "not sent" in t or "rejected" in t]


async def test_a_position_at_the_venue_refuses_the_pair_naming_it() -> None:
    async with live_engine() as (rig, eng):
        rig.fy.positions["ETHUSDT"] = D("0.5")
        why = await admit(rig.router, rig.venues, [ETH_BINANCE, ETH_BYBIT])
        assert why == (
            "bybit ETHUSDT holds 0.5 at the venue, a position arbtui does not know: close it "
            "there (or start with a config that has the pair, so that start-up reviews it), "
            "then add the pair again"
        )
        assert ("binance", "ETHUSDT") not in rig.venues["binance"].specs
        assert ("bybit", "ETHUSDT") not in rig.venues["bybit"].specs
        assert ("bybit", "ETHUSDT") not in rig.router.book.specs
        assert len(eng.pairs) == 1


async def test_an_open_order_or_an_unlisted_symbol_refuses_the_pair() -> None:
    async with live_engine() as (rig, eng):
        rig.fb.rest_order("ETHUSDT", "buy", "0.1", cid="web_left_by_hand")
        why = await admit(rig.router, rig.venues, [ETH_BINANCE, ETH_BYBIT])
        assert why == (
            "binance ETHUSDT has 1 open order(s) arbtui does not know (web_left_by_hand): "
            "cancel them at the venue, then add the pair again"
        )
        sol = ETH_BINANCE.__class__(**{**_fields(ETH_BINANCE), "symbol": "SOLUSDT"})
        why = await admit(rig.router, rig.venues, [sol, ETH_BYBIT])
        assert why == (
            "instrument check at binance failed: binance: SOLUSDT is not listed in exchangeInfo"
        )
        coarse = ETH_BYBIT.__class__(**{**_fields(ETH_BYBIT), "lot": D("0.1")})
        why = await admit(rig.router, rig.venues, [ETH_BINANCE, coarse])
        assert why == (
            "instrument check at bybit failed: bybit ETHUSDT: configured lot 0.1 but "
            "instruments-info qtyStep is 0.01: fix [instruments] before trading"
        )
        assert ("bybit", "ETHUSDT") not in rig.venues["bybit"].specs
        assert len(eng.pairs) == 1


def _fields(spec: object) -> dict[str, object]:
    return {f: getattr(spec, f) for f in spec.__struct_fields__}  # type: ignore[attr-defined]


async def test_with_the_redis_queue_the_spec_rides_to_a_worker_whose_config_lacks_it(
    prefix: str,
) -> None:
    """``arbtui worker`` processes start from their own config: an intent on an instrument
    the engine added at run time carries its spec, and the worker trades it with that spec."""
    from tests.fake_venues import KEYS, intent, live_settings
    from tests.redis_fixtures import REDIS, router_and_worker

    fb = await FakeBinance(*KEYS["binance"]).start()
    fy = await FakeBybit(*KEYS["bybit"]).start()
    list_eth(fb, fy)
    fy.price = D("2999")
    s = live_settings(eager(), fb, fy, redis_url=REDIS, prefix=prefix, block_s=0.2)
    updates: list[object] = []
    try:
        async with router_and_worker(s, "eng-add", updates.append) as (router, _, wvenues):
            assert ("bybit", "ETHUSDT") not in wvenues["bybit"].specs
            router.learn(ETH_BYBIT)
            router.submit(intent("r-eth-1", "bybit", "ETHUSDT", "buy", "3.33"))
            await aeventually(
                lambda: any(
                    getattr(u, "client_order_id", "") == "r-eth-1" and getattr(u, "fill", None)
                    for u in updates
                )
            )
            assert wvenues["bybit"].specs[("bybit", "ETHUSDT")] == ETH_BYBIT
            (order,) = fy.placed("r-eth-1")
            assert (order.symbol, order.qty) == ("ETHUSDT", D("3.33"))
    finally:
        await fb.stop()
        await fy.stop()


def test_a_live_session_adds_a_pair_from_the_console_after_refusing_it_with_a_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end through the host, as the scanner's ``a`` submits it: the live session's
    order path checks the venues (a position refuses, naming the step), then adds the pair
    DISARMED, teaches the order path its specs and subscribes its feeds."""
    from core.domain.config import PairSettings, load_config
    from core.runtime.paper_session import build_paper_session
    from tests.conftest import eventually
    from tests.fake_exchange.exchanges import FakeExchanges
    from tests.fake_exchange.thread import ServerThread
    from tests.fake_venues import KEYS, ROOT, live_settings
    from tests.helpers import with_overrides
    from tests.test_add_pair_paper import ETH_GUESS

    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path / "state"))
    st = ServerThread()
    feeds = FakeExchanges()
    st.call(feeds.start())
    fb = st.call(FakeBinance(*KEYS["binance"]).start())
    fy = st.call(FakeBybit(*KEYS["bybit"]).start())
    list_eth(fb, fy)
    fb.positions["ETHUSDT"] = D("0.5")  # left by hand at the venue
    base = load_config(ROOT / "configs" / "binance_bybit_inverse.toml")
    base = with_overrides(base, venues={"position_check_s": 0.3})  # the session's checks
    settings = live_settings(feeds.settings(base), fb, fy, timeout_ms=2000, grace_ms=500)
    session = build_paper_session(settings, mode="live")
    host, eng = session.host, session.engine
    add = cmd.AddPair(
        pair=PairSettings(name="ETHX", leg_a="binance_ethusdt", leg_b="bybit_btcusdt"),
        spec_a=ETH_GUESS,
        spec_b=settings.instruments["bybit_btcusdt"],
        source="test",
    )
    host.start()
    try:
        eventually(lambda: any("live execution ready" in e.text for e in host.snapshot().log), 15)
        host.submit(add)
        eventually(lambda: any("add pair ETHX: refused" in t for t in alerts(eng)), 10)
        assert [t for t in alerts(eng) if "add pair ETHX" in t] == [
            "add pair ETHX: refused: binance ETHUSDT holds 0.5 at the venue, a position arbtui "
            "does not know: close it there (or start with a config that has the pair, so that "
            "start-up reviews it), then add the pair again"
        ]
        assert [p.name for p in host.snapshot().pairs] == ["BTC"]
        fb.positions["ETHUSDT"] = D(0)  # closed by hand: add again
        host.submit(add)
        eventually(lambda: any(p.name == "ETHX" for p in host.snapshot().pairs), 10)
        eventually(
            lambda: any("add pair ETHX: binance ETHUSDT subscribed" in e.text
                        for e in host.snapshot().log), 10,
        )  # fmt: skip
        row = next(p for p in host.snapshot().pairs if p.name == "ETHX")
        assert not row.armed and row.status == "flat"
        # the session's position checks read the new symbol too (beyond the two reads of
        # the two adds' venue checks)
        eth_reads = lambda: [r for r in fb.requests("GET", "/fapi/v2/positionRisk")  # noqa: E731
                             if "symbol=ETHUSDT" in r.query]  # fmt: skip
        eventually(lambda: len(eth_reads()) >= 4, 10)
        assert not [t for t in alerts(eng) if "mismatch" in t]
        log = [e.text for e in host.snapshot().log]
    finally:
        host.stop()
        st.call(fb.stop())
        st.call(fy.stop())
        st.call(feeds.stop())
        st.close()
    steps = [t for t in log if t.startswith("add pair ETHX") and "specs from" not in t]
    assert steps[-5:] == [
        "add pair ETHX: reading the specs of binance ETHUSDT / bybit BTCUSDT from the venues",
        "add pair ETHX: checking binance ETHUSDT / bybit BTCUSDT at the venues (instrument, "
        "one-way mode, position, open orders)",
        "add pair ETHX: added DISARMED: binance ETHUSDT / bybit BTCUSDT, cap 60000 USD a leg; "
        "it opens nothing until armed (palette: Arm pair ETHX)",
        "add pair ETHX: binance ETHUSDT subscribed",
        "add pair ETHX: bybit BTCUSDT subscribed",
    ]
    # the venue's REST spec (exchangeInfo: stepSize 0.001) replaced the scanner's guess and
    # is what the order path trades
    assert eng.specs[("binance", "ETHUSDT")].lot == D("0.001")
