"""``arbtui --live`` end to end against local fakes of Binance and Bybit: live feeds drive the
engine, its orders go through the execution router to the fake venues (their real REST wire
formats), and the fills come back into the same ledger the paper and replay modes use. Run on
the shipped config (Binance BTCUSDT / Bybit BTCUSDT linear) and on the inverse one (Binance
BTCUSDT / Bybit BTCUSD, 1 contract = 1 USD)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from core.domain import commands as cmd
from core.domain.config import Settings, load_config
from core.runtime.paper_session import build_paper_session
from tests.conftest import eventually
from tests.fake_exchange.exchanges import FakeExchanges
from tests.fake_exchange.thread import ServerThread
from tests.fake_venues import ENV, KEYS, ROOT, FakeBinance, FakeBybit, live_settings
from tests.helpers import with_overrides


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path / "state"))
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def exchanges() -> Iterator[tuple[FakeExchanges, FakeBinance, FakeBybit]]:
    st = ServerThread()
    feeds = FakeExchanges()
    st.call(feeds.start())
    fb = st.call(FakeBinance(*KEYS["binance"]).start())
    fy = st.call(FakeBybit(*KEYS["bybit"]).start())
    yield feeds, fb, fy
    st.call(fb.stop())
    st.call(fy.stop())
    st.call(feeds.stop())
    st.close()


def live(settings: Settings, feeds: FakeExchanges, fb: FakeBinance, fm: FakeBybit) -> Settings:
    """Entering on the first observation whatever the basis (the recorded frames of the two
    venues are years apart); the engine starts DISARMED as live always does by default."""
    s = with_overrides(
        settings,
        metrics={"port": 0},
        strategy={"observe_every_s": 1, "observations": 1, "entry_edge_pct": -100.0,
                  "exit_apr_pct": 0.0},
    )  # fmt: skip
    return live_settings(feeds.settings(s), fb, fm, timeout_ms=2000, grace_ms=500)


@pytest.mark.parametrize(
    ("config", "symbol"),
    [("config.toml", "BTCUSDT"), ("configs/binance_bybit_inverse.toml", "BTCUSD")],
    ids=["linear", "inverse"],
)
def test_live_orders_reach_the_venues_and_fills_come_back_to_the_ledger(
    config: str,
    symbol: str,
    exchanges: tuple[FakeExchanges, FakeBinance, FakeBybit],
    tmp_path: Path,
) -> None:
    feeds, fb, fm = exchanges
    settings = load_config(ROOT / config)
    session = build_paper_session(live(settings, feeds, fb, fm), mode="live")
    host = session.host
    host.start()
    try:
        eventually(lambda: any("live execution ready" in e.text for e in host.snapshot().log), 15)
        assert host.snapshot().trades == 0  # DISARMED: nothing is sent
        host.submit(cmd.Arm(source="test"))
        eventually(lambda: host.snapshot().trades >= 2, timeout_s=15)
        snap = host.snapshot()
        host.submit(cmd.Kill(source="test"))
        eventually(lambda: host.snapshot().risk.trading_state == "HALTED", timeout_s=5)
        eventually(lambda: not host.snapshot().exposure_open, timeout_s=10)
    finally:
        host.stop()
    assert snap.mode == "live"
    bn_orders = fb.requests("POST", "/fapi/v1/order")
    bm_orders = fm.requests("POST", "/v5/order/create")
    assert bn_orders and bm_orders
    ids = [parse_qs(o.body or o.query)["newClientOrderId"][0] for o in bn_orders]
    assert all(i.startswith("arb") and len(i) <= 36 for i in ids)
    assert fb.positions.get("BTCUSDT", Decimal(0)) == 0  # the kill switch closed it
    assert fm.positions.get(symbol, 0) == 0
    assert {json.loads(o.body)["symbol"] for o in bm_orders} == {symbol}
    kills = [t for t in session.engine.ledger.trades if t.fill.purpose == "kill"]
    assert kills and all(t.fill.reduce_only for t in kills)
    with sqlite3.connect(tmp_path / "state" / "audit-live.db") as db:
        kinds = dict(db.execute("SELECT kind, count(*) FROM audit GROUP BY kind").fetchall())
        raw = [json.loads(p)["raw"] for (p,) in db.execute(
            "SELECT payload FROM audit WHERE kind = 'order_update'")]  # fmt: skip
    assert kinds["order_intent"] == len(bn_orders) + len(bm_orders)  # each written before sending
    assert kinds["fill"] == len(session.engine.ledger.trades)
    assert any('"orderLinkId"' in r for r in raw) and any(
        "clientOrderId" in r for r in raw
    )  # the venues' own text
