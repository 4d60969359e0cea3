"""Several pairs in one engine (issue 14 item 5, the parts that decide money): an instrument
belongs to one pair only, and each pair's hedger works on its own legs' delta, so a BTC pair
never trades BTC against an ETH pair's imbalance."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.domain.config import ConfigError, parse_config
from core.domain.risk import TradingState
from core.engine.engine import Engine
from core.engine.reconcile import book_external
from tests.helpers import bar

ROOT = Path(__file__).resolve().parent.parent
D = Decimal

ETH = """
[instruments.binance_ethusdt]
venue = "binance"
symbol = "ETHUSDT"
kind = "linear"
contract_size = "1"
tick = "0.01"
lot = "0.001"
min_qty = "0.001"
min_notional = "5"

[instruments.bybit_ethusdt]
venue = "bybit"
symbol = "ETHUSDT"
kind = "linear"
contract_size = "1"
tick = "0.01"
lot = "0.01"
min_qty = "0.01"
min_notional = "5"

[[pairs]]
name = "ETH"
leg_a = "binance_ethusdt"
leg_b = "bybit_ethusdt"
"""


def two_pairs(extra: str = ETH) -> str:
    return (ROOT / "config.toml").read_text() + extra


def test_an_instrument_may_belong_to_one_pair_only() -> None:
    shared = ETH.replace('leg_a = "binance_ethusdt"', 'leg_a = "binance_btcusdt"')
    with pytest.raises(
        ConfigError,
        match=r"c\.toml: pairs\[1\]\.leg_a: instrument 'binance_btcusdt' already belongs to "
        r"pair 'BTC': an instrument may belong to one pair only",
    ):
        parse_config(two_pairs(shared), "c.toml")
    with pytest.raises(ConfigError, match=r"pairs\[1\]\.name: 'BTC' names two pairs"):
        parse_config(two_pairs(ETH.replace('name = "ETH"', 'name = "BTC"')), "c.toml")


def test_each_pair_hedges_its_own_asset() -> None:
    settings = parse_config(two_pairs(), "two.toml")
    eng = Engine(settings, mode="paper")
    for venue in ("binance", "bybit"):
        eng.on_event(bar(venue, "BTCUSDT", "2024-01-01T00:01", 50_000.0))
        eng.on_event(bar(venue, "ETHUSDT", "2024-01-01T00:01", 2_500.0))
    eng.set_state(TradingState.ARMED, "test")
    btc, eth = eng.pairs
    for pr in (btc, eth):
        eng.drive(pr, pr.enter(1))
        assert pr.status == "open"
    assert btc.net_delta() == 0 and eth.net_delta() == 0
    # an imbalance of 0.5 ETH on the ETH pair (a partial fill, an auto-deleverage)
    book_external(eng, ("bybit", "ETHUSDT"), D("0.5"), "external")
    assert eth.net_delta() == D("0.5") and btc.net_delta() == 0
    before = len(eng.ledger.trades)
    for venue in ("binance", "bybit"):
        eng.on_event(bar(venue, "BTCUSDT", "2024-01-01T00:02", 50_000.0))
        eng.on_event(bar(venue, "ETHUSDT", "2024-01-01T00:02", 2_500.0))
    hedges = [t.fill for t in eng.ledger.trades[before:] if t.fill.purpose == "hedge"]
    assert [(f.pair, f.symbol) for f in hedges] == [("ETH", "ETHUSDT")]  # never the BTC pair
    assert abs(eth.net_delta()) <= settings.hedge.band_btc
    assert btc.net_delta() == 0
