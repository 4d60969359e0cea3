"""Writing a scanned pair into a config file (tui/scan_config.py, the scanner screen's ``w``):
the result loads with the config loader, keeps the file's comments, reuses instruments the
file has, does not repeat a pair, and a new file starts from the running config."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core.domain.config import load_config
from core.domain.scan import rank_pair
from tests.conftest import ROOT
from tests.test_scan_ranking import BTC_BN, BTC_BY, NOW, SOL_BN, SOL_BY, S
from tui.scan_config import write_pair

CONFIG = ROOT / "config.toml"


def test_a_pair_goes_into_a_copy_of_the_running_config_and_loads(tmp_path: Path) -> None:
    running = load_config(CONFIG)
    target = tmp_path / "pairs.toml"
    o = rank_pair(SOL_BN, SOL_BY, S, NOW)
    assert write_pair(target, o, running) == "SOL-binance-bybit"
    loaded = load_config(target)
    assert [p.name for p in loaded.pairs] == ["BTC", "SOL-binance-bybit"]
    pair = loaded.pairs[1]
    assert (pair.leg_a, pair.leg_b, pair.max_notional_usd) == (
        "binance_solusdt", "bybit_solusdt", Decimal(60000),
    )  # fmt: skip
    bn, by = loaded.instruments["binance_solusdt"], loaded.instruments["bybit_solusdt"]
    assert (bn.venue, bn.symbol, bn.kind, bn.tick, bn.lot) == (
        "binance", "SOLUSDT", "linear", Decimal("0.01"), Decimal("0.001"),
    )  # fmt: skip
    assert (bn.taker_fee, by.taker_fee, by.maker_fee) == (
        Decimal("0.0005"), Decimal("0.00055"), Decimal("0.0002"),
    )  # fmt: skip
    text = target.read_text()
    assert text.startswith(CONFIG.read_text()[:200])  # the running config, comments and all
    # the same pair again: nothing added
    assert write_pair(target, o, running) == "SOL-binance-bybit"
    assert target.read_text() == text


def test_an_inverse_leg_reuses_the_instrument_the_file_has(tmp_path: Path) -> None:
    target = tmp_path / "config.toml"
    target.write_text(CONFIG.read_text())
    o = rank_pair(BTC_BN, BTC_BY, S, NOW)
    name = write_pair(target, o, load_config(CONFIG))
    loaded = load_config(target)
    assert name == "BTC-binance-bybit"
    assert sorted(loaded.instruments) == ["binance_btcusdt", "bybit_btcusd", "bybit_btcusdt"]
    assert (loaded.pairs[-1].leg_a, loaded.pairs[-1].leg_b) == ("binance_btcusdt", "bybit_btcusd")
    assert "# Bybit inverse BTCUSD: 1 contract = 1 USD" in target.read_text()
