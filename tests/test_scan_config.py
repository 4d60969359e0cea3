"""Writing a scanned pair into a config file (tui/scan_config.py, the scanner screen's ``w``):
the result loads with the config loader, keeps the file's comments, refuses a pair on an
instrument another pair holds, does not repeat a pair, and a new file starts from the running
config."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.domain.config import ConfigError, load_config
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
    # its hedge band in SOL (band_btc is BTC's): 5 % of the 60,000 USD leg cap at 150 = 20 SOL
    assert (pair.hedge_band, pair.band(loaded.hedge)) == (
        Decimal(20), (Decimal(20), Decimal(0), Decimal(30)),
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


def test_a_pair_on_an_instrument_another_pair_holds_is_refused_and_nothing_written(
    tmp_path: Path,
) -> None:
    # Binance BTCUSDT already belongs to pair BTC: one instrument, one pair (its position,
    # hedge and ladder are that pair's), so the inverse pair is refused, the file untouched
    target = tmp_path / "config.toml"
    target.write_text(CONFIG.read_text())
    o = rank_pair(BTC_BN, BTC_BY, S, NOW)
    with pytest.raises(
        ConfigError,
        match=r"pairs\[1\]\.leg_a: instrument 'binance_btcusdt' already belongs to pair 'BTC'",
    ):
        write_pair(target, o, load_config(CONFIG))
    assert target.read_text() == CONFIG.read_text()
