"""``arbtui --paper`` end to end against the fake venues: live spreads and paper fills on the
engine's own thread, the stale-data rule, instrument specs through ccxt with the config as
fallback, the recorder, and a recording that replays to the same decisions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from core.analysis.replay import load_replay
from core.domain.config import Settings, load_config
from core.runtime.headless import run_replay
from core.runtime.paper_session import build_paper_session
from tests.conftest import eventually
from tests.fake_exchange.exchanges import FakeExchanges
from tests.fake_exchange.thread import ServerThread, fakes_on_a_thread
from tests.helpers import with_overrides
from tui.cli import main


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit database and logs of these sessions go to the test's own folder."""
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path / "state"))


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def settings() -> Settings:
    """The shipped default config: Binance BTCUSDT paired with Bybit BTCUSDT (linear), Bybit
    BTCUSD (inverse) configured but not traded."""
    return load_config(ROOT / "config.toml")


@pytest.fixture
def fx() -> Iterator[tuple[ServerThread, FakeExchanges]]:
    with fakes_on_a_thread() as both:
        yield both


def eager(settings: Settings, fakes: FakeExchanges) -> Settings:
    """Armed, observing every second and entering on the first observation, whatever the
    basis (the recorded frames of the two venues are years apart)."""
    quiet = {"metrics": {"port": 0}} if hasattr(settings, "metrics") else {}
    s = with_overrides(
        settings,
        **quiet,
        risk={"start_state": "ARMED"},
        strategy={"observe_every_s": 1, "observations": 1, "entry_edge_pct": -100.0,
                  "exit_apr_pct": 0.0},
    )  # fmt: skip
    return fakes.settings(s)


def test_paper_shows_live_spreads_and_fills_the_strategys_orders(
    settings: Settings, fx: tuple[ServerThread, FakeExchanges]
) -> None:
    _, fakes = fx
    session = build_paper_session(eager(settings, fakes))
    host = session.host
    host.start()
    try:
        eventually(lambda: host.snapshot().trades >= 2, timeout_s=10)
        snap = host.snapshot()
    finally:
        host.stop()
    assert snap.mode == "paper" and not snap.risk.data_stale
    assert {(f.venue, f.stream, f.state) for f in snap.feeds} >= {
        ("binance", "btcusdt@markPrice@1s", "live"),
        ("binance", "btcusdt@bookTicker", "live"),
        ("bybit", "tickers.BTCUSDT", "live"),
    }
    (pair,) = snap.pairs
    # Binance estimate 0.00000078 / 8 h against Bybit's estimate 0.0001 / 8 h (fundingInterval
    # 480 minutes from instruments-info): long Binance, short Bybit
    assert (pair.long_venue, pair.short_venue) == ("binance", "bybit")
    assert pair.spread_per_hour == pytest.approx((0.0001 - 0.00000078) / 8)
    fund = {(f.venue, f.symbol, f.next_rate_kind, f.next_rate) for f in snap.funding}
    assert fund >= {
        ("binance", "BTCUSDT", "estimate", Decimal("7.8E-7")),
        ("bybit", "BTCUSDT", "estimate", Decimal("0.0001")),
    }
    fills = [e.text for e in snap.log if e.kind == "fill"]
    assert any("BTCUSDT" in t and "bybit" in t for t in fills)
    assert any("BTCUSDT" in t and "binance" in t for t in fills)


def test_nothing_is_opened_while_a_venue_is_stale_and_trading_starts_once_it_is_live(
    settings: Settings, fx: tuple[ServerThread, FakeExchanges]
) -> None:
    _, fakes = fx
    fakes.bybit.silent = True  # acks and pongs still come; no ticker
    session = build_paper_session(eager(settings, fakes))
    host = session.host
    host.start()
    try:
        eventually(lambda: session.board.venue("binance").messages > 20, timeout_s=5)
        eventually(lambda: host.snapshot().risk.data_stale)
        snap = host.snapshot()
        assert snap.trades == 0 and "bybit" in session.engine.stale_venues
        stale = [f for f in snap.feeds if f.venue == "bybit" and f.state != "live"]
        assert {f.stream for f in stale} >= {"tickers.BTCUSDT"}
        fakes.bybit.silent = False
        eventually(lambda: host.snapshot().trades >= 2, timeout_s=10)
        assert not host.snapshot().risk.data_stale
    finally:
        host.stop()


def test_specs_come_from_the_venues_and_from_the_config_when_rest_fails(
    settings: Settings, fx: tuple[ServerThread, FakeExchanges]
) -> None:
    _, fakes = fx
    s = fakes.settings(settings)
    session = build_paper_session(s)
    assert session.specs.sources == {
        "binance_btcusdt": "rest",
        "bybit_btcusdt": "rest",
        "bybit_btcusd": "config",  # configured but not traded: not read
    }
    assert any(
        r.startswith("/v5/market/instruments-info?") and "category=linear" in r
        and "symbol=BTCUSDT" in r for r in fakes.bybit.requests
    )  # fmt: skip
    lin = session.engine.specs[("bybit", "BTCUSDT")]
    assert (lin.kind, lin.tick, lin.lot, lin.min_qty, lin.min_notional) == (
        "linear",
        Decimal("0.1"),
        Decimal("0.001"),
        Decimal("0.001"),
        Decimal(5),
    )  # the docs' instruments-info example: tickSize 0.10, qtyStep 0.001
    assert lin.taker_fee == Decimal("0.00055")  # the config's: instruments-info has no fees
    fakes.rest.fail = True
    fakes.bybit.rest_fail = True
    said: list[str] = []
    offline = build_paper_session(s, say=said.append)
    assert set(offline.specs.sources.values()) == {"config"}
    assert offline.engine.specs[("bybit", "BTCUSDT")] == settings.instruments["bybit_btcusdt"]
    assert all("specs from the config" in n and "not read" in n for n in said)
    assert len(said) == 2


def test_a_recorded_paper_session_replays_to_the_same_decisions(
    settings: Settings, fx: tuple[ServerThread, FakeExchanges], tmp_path: Path
) -> None:
    _, fakes = fx
    out = tmp_path / "session.jsonl.gz"
    s = eager(settings, fakes)
    s = with_overrides(s, replay={"auto_arm": True})
    session = build_paper_session(s, record=out)
    host = session.host
    host.start()
    try:
        eventually(lambda: host.snapshot().trades >= 2, timeout_s=10)
        eventually(lambda: session.sink is not None and session.sink.events > 300, timeout_s=10)
    finally:
        host.stop()
    assert out.exists() and not Path(str(out) + ".events.part").exists()
    header, events = load_replay(out)
    assert header.events == len(events) == session.sink.events  # type: ignore[union-attr]
    assert [(i.venue, i.symbol) for i in header.instruments] == [
        ("binance", "BTCUSDT"), ("bybit", "BTCUSDT")
    ]  # fmt: skip
    live = [
        (t.fill.venue, t.fill.side, t.fill.qty, t.fill.price, t.fill.purpose, t.fill.ts_ms)
        for t in session.engine.ledger.trades
    ]
    report = run_replay(session.settings, out)
    again = [
        (t["venue"], t["side"], Decimal(t["qty"]), Decimal(t["price"]), t["purpose"], t["ts_ms"])
        for t in report["trades"]
    ]
    assert again == live and len(live) >= 2
    assert report["final_trading_state"] == str(session.engine.state)


def test_arbtui_paper_headless_prints_status_lines_and_records(
    settings: Settings, fx: tuple[ServerThread, FakeExchanges], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _, fakes = fx
    cfg = tmp_path / "config.toml"
    text = (Path(__file__).resolve().parent.parent / "config.toml").read_text()
    f = fakes.feeds()
    for key in ("binance_ws_url", "binance_rest_url", "bybit_ws_url", "bybit_rest_url"):
        default = json.dumps(getattr(type(f)(), key))
        assert default in text, key  # config.toml writes every feed URL out
        text = text.replace(default, json.dumps(getattr(f, key)), 1)
    text = text.replace("status_every_s = 5.0", "status_every_s = 0.5")
    cfg.write_text(text)
    rec = tmp_path / "rec.jsonl"
    code = main(["--paper", "--headless", "--config", str(cfg), "--duration", "2",
                 "--record", str(rec)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0
    lines = [ln for ln in out.splitlines() if " PAPER " in ln]
    assert len(lines) >= 3
    assert "binance live" in lines[-1] and "bybit live" in lines[-1]
    assert "spread" in lines[-1] and "DISARMED" in lines[-1]
    assert "specs from the venue" in err
    header, events = load_replay(rec)
    assert header.events == len(events) > 0
