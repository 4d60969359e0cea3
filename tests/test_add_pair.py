"""A pair added to a running session (issue 14 item 3: the scanner's "add to this session"):
it joins the engine DISARMED and stays flat while the engine is ARMED until the operator arms
it, then trades; it is written to the observers (``pair_added``); and the engine refuses,
saying why, an instrument that already belongs to a pair, a venue the session is not
connected to, and any replay."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core.domain import commands as cmd
from core.domain.config import PairSettings, Settings, load_config
from core.domain.events import InstrumentSpec
from core.domain.records import PairAdded, PairArmed
from core.domain.risk import TradingState
from core.engine.engine import Engine
from core.engine.views import build_snapshot
from tests.helpers import bar, settle, with_overrides

ROOT = Path(__file__).resolve().parent.parent

ETH_BINANCE = InstrumentSpec(
    venue="binance", symbol="ETHUSDT", kind="linear", contract_size=Decimal(1),
    tick=Decimal("0.01"), lot=Decimal("0.001"), min_qty=Decimal("0.001"),
    min_notional=Decimal(5), maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.0005"),
    settle_currency="USDT", quote="USDT",
)  # fmt: skip
"""Binance ETHUSDT as exchangeInfo gives it (tick 0.01, step 0.001, min notional 5)."""
ETH_BYBIT = InstrumentSpec(
    venue="bybit", symbol="ETHUSDT", kind="linear", contract_size=Decimal(1),
    tick=Decimal("0.01"), lot=Decimal("0.01"), min_qty=Decimal("0.01"),
    min_notional=Decimal(5), maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.00055"),
    settle_currency="USDT", quote="USDT",
)  # fmt: skip
"""Bybit ETHUSDT as instruments-info gives it (tickSize 0.01, qtyStep 0.01)."""


def eager() -> Settings:
    """The shipped config (pair BTC: Binance BTCUSDT / Bybit BTCUSDT), entering on the first
    observation whatever the edge, observing every second."""
    return with_overrides(
        load_config(ROOT / "config.toml"),
        strategy={"observe_every_s": 1, "observations": 1, "entry_edge_pct": -100.0,
                  "exit_apr_pct": -1000.0},
    )  # fmt: skip


def add_eth(name: str = "ETH") -> cmd.AddPair:
    return cmd.AddPair(
        pair=PairSettings(name=name, leg_a="binance_ethusdt", leg_b="bybit_ethusdt"),
        spec_a=ETH_BINANCE,
        spec_b=ETH_BYBIT,
        source="test",
    )


class Rows:
    """An observer that keeps every record (what the audit log would get)."""

    def __init__(self) -> None:
        self.rows: list[object] = []

    def before_send(self, intent: object) -> None:
        pass

    def record(self, rec: object) -> None:
        self.rows.append(rec)


def rates(eng: Engine) -> None:
    """Last settled rates (8 h): Binance pays more than Bybit on both assets."""
    for symbol in ("BTCUSDT", "ETHUSDT"):
        eng.on_event(settle("binance", symbol, "2024-01-01T00:00", "0.0005"))
        eng.on_event(settle("bybit", symbol, "2024-01-01T00:00", "0.0001"))


def prices(eng: Engine, minute: int) -> None:
    if minute == 1:
        rates(eng)
    at = f"2024-01-01T00:{minute:02d}"
    for venue, btc, eth in (("binance", 50_000.0, 2_500.0), ("bybit", 50_010.0, 2_501.0)):
        eng.on_event(bar(venue, "BTCUSDT", at, btc))
        eng.on_event(bar(venue, "ETHUSDT", at, eth))


def eth_fills(eng: Engine) -> list[str]:
    return [t.fill.symbol for t in eng.ledger.trades if t.fill.pair == "ETH"]


def test_an_added_pair_stays_flat_while_the_engine_is_armed_until_it_is_armed() -> None:
    eng = Engine(eager(), mode="paper")
    eng.session_venues = frozenset({"binance", "bybit"})
    rows = Rows()
    eng.recorders.append(rows)
    prices(eng, 1)
    eng.handle(cmd.Arm(source="test"))
    assert eng.state is TradingState.ARMED
    eng.handle(add_eth())
    eth = eng.pairs[-1]
    assert (eth.cfg.name, eth.armed, eth.status) == ("ETH", False, "flat")
    assert [p.name for p in eng.settings.pairs] == ["BTC", "ETH"]
    assert eng.traded_keys()[-2:] == [("binance", "ETHUSDT"), ("bybit", "ETHUSDT")]
    added = [r for r in rows.rows if isinstance(r, PairAdded)]
    assert len(added) == 1 and added[0].pair == "ETH" and not added[0].armed
    assert [(leg["id"], leg["venue"], leg["symbol"], leg["tick"]) for leg in added[0].legs] == [
        ("binance_ethusdt", "binance", "ETHUSDT", "0.01"),
        ("bybit_ethusdt", "bybit", "ETHUSDT", "0.01"),
    ]
    for minute in range(2, 6):  # observations every second: the BTC pair enters, ETH does not
        prices(eng, minute)
    assert eng.pairs[0].status == "open"
    assert eth.status == "flat" and eth_fills(eng) == []
    snap = build_snapshot(eng, None)
    assert [(p.name, p.armed) for p in snap.pairs] == [("BTC", True), ("ETH", False)]
    # re-arming the engine does not arm the added pair
    eng.handle(cmd.Pause(source="test"))
    eng.handle(cmd.Resume(source="test"))
    eng.handle(cmd.Arm(source="test"))
    prices(eng, 6)
    assert eth_fills(eng) == []
    eng.handle(cmd.ArmPair(pair="ETH", source="test"))
    assert eth.armed and any(isinstance(r, PairArmed) and r.pair == "ETH" for r in rows.rows)
    prices(eng, 7)
    assert eth.status == "open"
    assert sorted(eth_fills(eng)) == ["ETHUSDT", "ETHUSDT"]
    assert {t.fill.venue for t in eng.ledger.trades if t.fill.pair == "ETH"} == {
        "binance",
        "bybit",
    }
    assert build_snapshot(eng, None).pairs[1].armed


def test_an_armed_pair_still_waits_for_the_engine_to_be_armed() -> None:
    eng = Engine(eager(), mode="paper")  # paper starts DISARMED
    prices(eng, 1)
    eng.handle(add_eth())
    eng.handle(cmd.ArmPair(pair="ETH", source="test"))
    prices(eng, 2)
    assert eng.state is TradingState.DISARMED and eng.ledger.trades == []
    eng.handle(cmd.Arm(source="test"))
    prices(eng, 3)
    assert sorted(eth_fills(eng)) == ["ETHUSDT", "ETHUSDT"]


def alerts(eng: Engine) -> list[str]:
    return [e.text for e in eng.log if e.kind == "alert"]


def test_adding_is_refused_with_the_reason() -> None:
    eng = Engine(eager(), mode="paper")
    eng.session_venues = frozenset({"binance", "bybit"})
    rows = Rows()
    eng.recorders.append(rows)
    taken = cmd.AddPair(
        pair=PairSettings(name="BTC2", leg_a="binance_btcusdt", leg_b="bybit_ethusdt"),
        spec_a=eng.settings.instruments["binance_btcusdt"],
        spec_b=ETH_BYBIT,
    )
    eng.handle(taken)
    assert alerts(eng)[-1] == (
        "add pair BTC2: refused: binance BTCUSDT already belongs to pair BTC (an instrument "
        "may belong to one pair only)"
    )
    eng.handle(add_eth("BTC"))
    assert (
        alerts(eng)[-1]
        == "add pair BTC: refused: the name 'BTC' is taken by a pair of this session"
    )
    eng.session_venues = frozenset({"binance"})
    eng.handle(add_eth())
    assert alerts(eng)[-1].startswith(
        "add pair ETH: refused: bybit is not connected in this session (connected: binance;"
    )
    assert len(eng.pairs) == 1 and [p.name for p in eng.settings.pairs] == ["BTC"]
    assert ("bybit", "ETHUSDT") not in eng.specs
    assert not any(isinstance(r, PairAdded) for r in rows.rows)

    ibit = Engine(with_overrides(eager(), ibit={"shares": Decimal(100)}), mode="paper")
    ibit.handle(add_eth())
    assert alerts(ibit)[-1].startswith(
        "add pair ETH: refused: pair BTC hedges the whole book (IBIT shares or the coin margin "
        "included"
    )
    assert len(ibit.pairs) == 1

    replay = Engine(eager(), mode="replay")
    replay.handle(add_eth())
    assert alerts(replay)[-1].startswith(
        "add pair ETH: refused: a replay has no data for an instrument it did not record"
    )
    assert len(replay.pairs) == 1


def test_an_instrument_the_config_lists_keeps_its_id() -> None:
    """Bybit BTCUSD is configured but traded by no pair: an added pair takes it under the
    config's id, with the spec the command brings."""
    eng = Engine(eager(), mode="paper")
    inverse = eng.settings.instruments["bybit_btcusd"]
    fresh = InstrumentSpec(**{**_fields(inverse), "tick": Decimal("0.5")})
    eng.handle(
        cmd.AddPair(
            pair=PairSettings(name="ETHINV", leg_a="binance_ethusdt", leg_b="bybit_btc_usd"),
            spec_a=ETH_BINANCE,
            spec_b=fresh,
        )
    )
    pair = eng.settings.pairs[-1]
    assert (pair.leg_a, pair.leg_b) == ("binance_ethusdt", "bybit_btcusd")
    assert eng.settings.instruments["bybit_btcusd"].tick == Decimal("0.5")
    assert eng.specs[("bybit", "BTCUSD")].tick == Decimal("0.5")


def _fields(spec: InstrumentSpec) -> dict[str, object]:
    return {f: getattr(spec, f) for f in spec.__struct_fields__}


def test_an_added_pair_has_its_metrics_series() -> None:
    """Prometheus: the added pair's position and spread series exist from when it is added
    (the ones created at start-up cover the configured pairs only)."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from core.observe.metrics import Metrics

    eng = Engine(eager(), mode="paper")
    metrics = Metrics(eng)
    eng.recorders.append(metrics)
    try:
        eng.handle(add_eth())
        text = generate_latest(metrics.registry).decode()
    finally:
        metrics.close()
    labels = {
        (fam.name, tuple(sorted(s.labels.items())))
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
    assert ("arbtui_position", (("symbol", "ETHUSDT"), ("unit", "BTC"), ("venue", "bybit"))) in {
        (n, tuple((k, v) for k, v in lab if k != "state")) for n, lab in labels
    }
    assert any(
        n == "arbtui_funding_spread_per_hour" and ("pair", "ETH") in lab for n, lab in labels
    )
    assert metrics.faults._value.get() == 0
