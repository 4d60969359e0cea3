"""A pair added to a running paper session, end to end on the fake venues (issue 14 item 3):
its legs' specs are read from the venues' REST endpoints, each venue's running feed subscribes
the new symbols at run time (Binance ``SUBSCRIBE`` on both combined-stream sockets, Bybit
``{"op": "subscribe"}``), and their quotes reach the pair, which trades once armed.

The session trades the shipped inverse pair (Binance BTCUSDT / Bybit BTCUSD); the pair added
is Binance ETHUSDT / Bybit BTCUSDT, because those are the symbols the recorded wire data of
``tests/data`` holds besides the session's own (the engine does not match assets: the
scanner does)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from core.analysis.replay import iter_replay
from core.domain import commands as cmd
from core.domain.config import PairSettings, Settings, load_config
from core.domain.events import InstrumentSpec
from core.feeds.health import HealthBoard
from core.observe.audit.store import open_readonly
from core.observe.statedir import resolve
from core.runtime.paper_session import build_paper_session
from tests.conftest import eventually
from tests.fake_exchange.exchanges import FakeExchanges
from tests.fake_exchange.thread import ServerThread, fakes_on_a_thread
from tests.helpers import with_overrides

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def fx() -> Iterator[tuple[ServerThread, FakeExchanges]]:
    with fakes_on_a_thread() as both:
        yield both


def eager(fakes: FakeExchanges) -> Settings:
    """The inverse pair's config, ARMED, entering on the first observation every second
    whatever the edge (the added pair's legs are two assets: a basis of 170 %)."""
    s = with_overrides(
        load_config(ROOT / "configs" / "binance_bybit_inverse.toml"),
        metrics={"port": 0},
        risk={"start_state": "ARMED"},
        strategy={"observe_every_s": 1, "observations": 1, "entry_edge_pct": -1000.0,
                  "exit_apr_pct": -1e9},
    )  # fmt: skip
    return fakes.settings(s)


ETH_GUESS = InstrumentSpec(
    venue="binance", symbol="ETHUSDT", kind="linear", contract_size=Decimal(1),
    tick=Decimal("0.1"), lot=Decimal("0.01"), min_qty=Decimal("0.01"),
    min_notional=Decimal(5), maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.0005"),
    settle_currency="USDT", quote="USDT",
)  # fmt: skip
"""What the scanner would hand over (coarser than the venue's: REST must replace it)."""


def test_an_added_pair_gets_its_streams_subscribed_and_trades_once_armed(
    fx: tuple[ServerThread, FakeExchanges], tmp_path: Path
) -> None:
    _, fakes = fx
    recording = tmp_path / "session.jsonl.gz"
    session = build_paper_session(eager(fakes), record=recording)
    host, eng = session.host, session.engine
    host.start()
    try:
        eventually(lambda: host.snapshot().trades >= 2, timeout_s=10)  # the BTC pair trades
        bybit_linear = eng.settings.instruments["bybit_btcusdt"]
        host.submit(
            cmd.AddPair(
                pair=PairSettings(name="ETHX", leg_a="binance_ethusdt", leg_b="bybit_btcusdt"),
                spec_a=ETH_GUESS,
                spec_b=bybit_linear,
                source="test",
            )
        )
        eventually(lambda: any(p.name == "ETHX" for p in host.snapshot().pairs), timeout_s=10)
        eventually(lambda: len(fakes.binance.requests) >= 2, timeout_s=5)
        subs = sorted(
            (path.split("?")[0], tuple(r["params"])) for path, r in fakes.binance.requests
        )
        assert subs == [
            ("/market/stream", ("ethusdt@markPrice@1s",)),
            ("/public/stream", ("ethusdt@bookTicker",)),
        ]
        eventually(
            lambda: any(o.get("args") == ["tickers.BTCUSDT"] for o in fakes.bybit.ops), timeout_s=5
        )
        ethx = next(p for p in eng.pairs if p.cfg.name == "ETHX")
        eventually(lambda: all(st.mark is not None for st in ethx.states()), timeout_s=10)
        # the venue's own specs replaced the guess (exchangeInfo: tickSize 0.01, stepSize 0.001)
        spec = eng.specs[("binance", "ETHUSDT")]
        assert (spec.tick, spec.lot) == (Decimal("0.01"), Decimal("0.001"))
        eventually(
            lambda: {("binance", "ethusdt@markPrice@1s"), ("binance", "ethusdt@bookTicker"),
                     ("bybit", "tickers.BTCUSDT")}
            <= {(f.venue, f.stream) for f in host.snapshot().feeds if f.state == "live"},
            timeout_s=10,
        )  # fmt: skip
        row = next(p for p in host.snapshot().pairs if p.name == "ETHX")
        assert not row.armed and row.status == "flat"
        assert not [t for t in eng.ledger.trades if t.fill.pair == "ETHX"]  # ARMED engine
        host.submit(cmd.ArmPair(pair="ETHX", source="test"))
        eventually(
            lambda: len([t for t in eng.ledger.trades if t.fill.pair == "ETHX"]) >= 2,
            timeout_s=10,
        )
        log = [e.text for e in host.snapshot().log]
    finally:
        host.stop()
    assert any(t.startswith("add pair ETHX: added DISARMED") for t in log)
    db = open_readonly(resolve(eng.settings.audit.path, "paper"))
    try:
        rows = db.execute(
            "SELECT kind, payload FROM audit WHERE kind IN ('pair_added', 'pair_armed') "
            "ORDER BY seq"
        ).fetchall()
    finally:
        db.close()
    assert [k for k, _ in rows] == ["pair_added", "pair_armed"]
    payload = json.loads(rows[0][1])
    assert payload["pair"] == "ETHX" and payload["armed"] is False
    assert [(leg["id"], leg["symbol"], leg["tick"], leg["lot"]) for leg in payload["legs"]] == [
        ("binance_ethusdt", "ETHUSDT", "0.01", "0.001"),
        ("bybit_btcusdt", "BTCUSDT", "0.1", "0.001"),
    ]  # what a restart needs to rebuild the pair: its instruments as traded
    added = next(i for i, t in enumerate(log) if t.startswith("add pair ETHX: added"))
    header, events = iter_replay(recording)
    assert [(i.venue, i.symbol) for i in header.instruments] == [
        ("binance", "BTCUSDT"),
        ("bybit", "BTCUSD"),
        ("binance", "ETHUSDT"),
        ("bybit", "BTCUSDT"),
    ]  # the recording lists the added pair's instruments, whose events it holds
    assert {(e.venue, e.symbol) for e in events} >= {("binance", "ETHUSDT"), ("bybit", "BTCUSDT")}
    assert not [t for t in log[added:] if "market data stale" in t]  # the new streams' grace
    assert any("binance ETHUSDT (binance_ethusdt): specs from the venue" in t for t in log)


def test_a_stream_added_at_run_time_has_one_stale_period_of_grace_then_counts() -> None:
    """A new subscription does not mark its venue stale while its first frame is on the way,
    but one still silent after ``stale_after_s`` does (start-up streams have no grace)."""
    now = [100.0]
    board = HealthBoard(monotonic=lambda: now[0])
    btc = board.stream("binance", "btcusdt@bookTicker", 2.0)
    btc.seen(100.0)
    board.added_stream("binance", "ethusdt@bookTicker", 2.0)
    assert board.stale_venues() == set()
    now[0] = 102.5
    btc.seen(102.0)  # the start-up stream is fresh: only the silent new one counts
    assert board.stale_venues() == {"binance"}
    assert board.worst("binance") == ("ethusdt@bookTicker", 2.5)
    board.stream("bybit", "tickers.BTCUSDT", 2.0)  # start-up: stale until its first frame
    assert "bybit" in board.stale_venues()
